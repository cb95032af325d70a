"""GenerateTemplateFromImage ``qualityMode`` gates: ENROL (strict), VERIFY (relaxed), DISABLED.

Returns None when the face passes, else exactly one of the reference's four
``ERROR_POOR_ICAO_QUALITY`` (510) messages, checked in the reference's order:

* ENROL — head pose (``head_pose_check``) → "non-compliant head pose"; eyes, nose and mouth
  fully visible (``eyes_full_visibility`` and eyeL/eyeR/nose/mouth above the ``is_compliant``
  bars) → "Face partially occluded"; inter-eye distance ≥ 60 px → "Inter ocular distance too
  small"; ``quality_metric`` ≥ 50 → "Non-compliant quality".
* VERIFY — inter-eye distance ≥ 32 px (a recogniser's 112-px crop has ~38 px between the
  eyes) and ``quality_metric`` ≥ 30 only, as the reference lists.

"Only a single face is detected" (ENROL) is the separate 509 ERROR_MULTIPLE_FACES, which the
endpoint raises before calling this.

:func:`enrol_problem` also says what was measured against which limit of which
``qualityMode``, and what to do: the answer's description (faceproof.errors.Problem.POOR_QUALITY).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from faceproof.errors import ApiError, Problem, problem
from faceproof.icao.report import IcaoReport
from faceproof.quality.config import COMPLIANT, POSE_LIMITS, QUALITY_MODES
from faceproof.quality.report import QualityReport, assess_quality
from faceproof.quality.session import QualitySession

QualityMode = Literal["ENROL", "VERIFY", "DISABLED"]

POSE = "non-compliant head pose"
OCCLUDED = "Face partially occluded"
INTER_OCULAR = "Inter ocular distance too small"
QUALITY = "Non-compliant quality"
MESSAGES = (POSE, OCCLUDED, INTER_OCULAR, QUALITY)


@dataclass(frozen=True)
class EnrolProblem:
    """A failed gate: the reference's message, and what was measured against which limit."""

    reason: str  # one of MESSAGES
    detail: str  # measured vs limit, with qualityMode, and what to do

    def api_error(self, field: str) -> ApiError:
        return problem(Problem.POOR_QUALITY, field, reason=self.reason, detail=self.detail)


def enrol_check(
    s: QualitySession,
    report: IcaoReport,
    mode: QualityMode,
    *,
    quality: QualityReport | None = None,
) -> str | None:
    """None, or the 510 message for the first failed check of ``mode``."""
    found = enrol_problem(s, report, mode, quality=quality)
    return None if found is None else found.reason


def enrol_problem(
    s: QualitySession,
    report: IcaoReport,
    mode: QualityMode,
    *,
    quality: QualityReport | None = None,
) -> EnrolProblem | None:
    """None, or the first failed check of ``mode`` with its measurement and advice."""
    if mode == "DISABLED":
        return None
    limits = QUALITY_MODES[mode]
    q = quality or assess_quality(s)
    relax = mode == "ENROL"  # only ENROL has a more lenient mode to suggest
    if limits.check_pose and not q.head_pose_check:
        p, lim = s.record.pose, POSE_LIMITS  # measured by the landmark stage
        seen = f"yaw {p.yaw:.0f}°, pitch {p.pitch:.0f}°, roll {p.roll:.0f}°; " if p else ""
        return EnrolProblem(
            POSE,
            f"{seen}qualityMode {mode} "
            f"allows ±{lim.yaw:.0f}°, ±{lim.pitch:.0f}°, ±{lim.roll:.0f}°. Send a photo of "
            "the face looking straight at the camera, head upright"
            + (
                ", or use qualityMode VERIFY (no pose check) for an image meant only for matching."
                if relax
                else "."
            ),
        )
    if limits.check_occlusion:
        parts = {
            "eyeL_visibility": (report.eyeL_visibility, COMPLIANT.eye),
            "eyeR_visibility": (report.eyeR_visibility, COMPLIANT.eye),
            "nose_visibility": (report.nose_visibility, COMPLIANT.nose),
            "mouth_visibility": (report.mouth_visibility, COMPLIANT.mouth),
        }
        low = [f"{k} {v} (needs > {bar})" for k, (v, bar) in parts.items() if v <= bar]
        if not report.eyes_full_visibility:
            low.insert(0, "eyes_full_visibility false (eyes closed, dark glasses or glare)")
        if low:
            return EnrolProblem(
                OCCLUDED,
                f"{'; '.join(low)}; qualityMode {mode} needs the eyes, nose and mouth fully "
                "visible. Send a photo without glasses, hair, hands or a mask over the face, "
                "eyes open"
                + (
                    ", or use qualityMode VERIFY (no occlusion check) for an image meant "
                    "only for matching."
                    if relax
                    else "."
                ),
            )
    if s.inter_eye_distance < limits.min_inter_eye:
        verify = QUALITY_MODES["VERIFY"].min_inter_eye
        return EnrolProblem(
            INTER_OCULAR,
            f"{s.inter_eye_distance:.0f} px between the eye centres; qualityMode {mode} "
            f"needs at least {limits.min_inter_eye:.0f} px. Send a larger photo with the "
            "face closer (in a 640×480 portrait the face fills about a third of the width)"
            + (
                f", or use qualityMode VERIFY (needs {verify:.0f} px) for an image meant only "
                "for matching."
                if relax
                else "."
            ),
        )
    if q.quality_metric < limits.min_quality:
        verify_q = QUALITY_MODES["VERIFY"].min_quality
        return EnrolProblem(
            QUALITY,
            f"quality_metric {q.quality_metric:.0f}; qualityMode {mode} needs at least "
            f"{limits.min_quality:.0f}. Send a sharper, evenly lit, well exposed photo"
            + (
                f", or use qualityMode VERIFY (needs {verify_q:.0f}) for an image meant only "
                "for matching."
                if relax
                else "."
            ),
        )
    return None
