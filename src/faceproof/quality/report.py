"""``data.quality``: the capture-quality block of the process/verify responses.

``quality_metric`` is the weighted geometric mean of the component scores (sharpness,
exposure, face size, head pose; :data:`~faceproof.quality.config.QUALITY_WEIGHTS`): a
geometric mean lets one bad component (a blurred or black face) pull the total down, where an
arithmetic mean would let a large sharp face hide that it is too dark to use.

``qc_passed`` ("the image quality is good"): ``quality_metric`` ≥ ``QC_MIN_METRIC`` and no
component below ``QC_MIN_COMPONENT``. Eye state and occlusion are not image quality; they are
reported by ``eyes_status`` and the ICAO block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from faceproof.quality.config import QC_MIN_COMPONENT, QC_MIN_METRIC, QUALITY_WEIGHTS
from faceproof.quality.exposure import Exposure
from faceproof.quality.eyes_open import EyesOpen, eyes_status
from faceproof.quality.face_size import FaceSize
from faceproof.quality.head_pose import HeadPose
from faceproof.quality.measure import MeasureResult
from faceproof.quality.session import QualitySession
from faceproof.quality.sharpness import Sharpness


@dataclass
class QualityReport:
    eyes_open_metric: float
    eyes_status: str
    head_pose_check: bool
    quality_metric: float
    qc_passed: bool
    components: dict[str, MeasureResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The reference's ``data.quality`` object, in its key order."""
        return {
            "eyes_status": self.eyes_status,
            "eyes_open_metric": round(self.eyes_open_metric, 4),
            "head_pose_check": self.head_pose_check,
            "quality_metric": round(self.quality_metric, 4),
            "qc_passed": self.qc_passed,
        }

    def ledger(self) -> dict[str, float]:
        """Raw values and scores of every component, for the transaction ledger."""
        out: dict[str, float] = {}
        for name, r in self.components.items():
            out[f"{name}_raw"] = round(r.raw, 4)
            out[f"{name}_score"] = round(r.score, 2)
        return out


def combine(scores: dict[str, float], weights: dict[str, float] = QUALITY_WEIGHTS) -> float:
    """Weighted geometric mean of 0–100 scores (a zero component gives zero)."""
    total = sum(weights.values())
    log_sum = 0.0
    for name, w in weights.items():
        v = scores[name]
        if v <= 0:
            return 0.0
        log_sum += w * math.log(v / 100.0)
    return 100.0 * math.exp(log_sum / total)


def assess_quality(s: QualitySession) -> QualityReport:
    """Every ``data.quality`` field for one face."""
    pose = HeadPose()
    comps: dict[str, MeasureResult] = {
        "sharpness": Sharpness().measure(s),
        "exposure": Exposure().measure(s),
        "face_size": FaceSize().measure(s),
        "head_pose": pose.measure(s),
    }
    metric = combine({k: v.score for k, v in comps.items()})
    qc = metric >= QC_MIN_METRIC and all(comps[k].score >= QC_MIN_COMPONENT for k in comps)
    eyes = EyesOpen().measure(s)
    comps["eyes_open"] = eyes
    return QualityReport(
        eyes_open_metric=eyes.score,
        eyes_status=eyes_status(eyes.score),
        head_pose_check=pose.check(s),
        quality_metric=metric,
        qc_passed=qc,
        components=comps,
    )
