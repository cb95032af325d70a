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
"""

from __future__ import annotations

from typing import Literal

from faceproof.icao.report import IcaoReport
from faceproof.quality.config import COMPLIANT, QUALITY_MODES
from faceproof.quality.report import QualityReport, assess_quality
from faceproof.quality.session import QualitySession

QualityMode = Literal["ENROL", "VERIFY", "DISABLED"]

POSE = "non-compliant head pose"
OCCLUDED = "Face partially occluded"
INTER_OCULAR = "Inter ocular distance too small"
QUALITY = "Non-compliant quality"
MESSAGES = (POSE, OCCLUDED, INTER_OCULAR, QUALITY)


def enrol_check(
    s: QualitySession,
    report: IcaoReport,
    mode: QualityMode,
    *,
    quality: QualityReport | None = None,
) -> str | None:
    """None, or the 510 message for the first failed check of ``mode``."""
    if mode == "DISABLED":
        return None
    limits = QUALITY_MODES[mode]
    q = quality or assess_quality(s)
    if limits.check_pose and not q.head_pose_check:
        return POSE
    if limits.check_occlusion and not (
        report.eyes_full_visibility
        and min(report.eyeL_visibility, report.eyeR_visibility) > COMPLIANT.eye
        and report.nose_visibility > COMPLIANT.nose
        and report.mouth_visibility > COMPLIANT.mouth
    ):
        return OCCLUDED
    if s.inter_eye_distance < limits.min_inter_eye:
        return INTER_OCULAR
    if q.quality_metric < limits.min_quality:
        return QUALITY
    return None
