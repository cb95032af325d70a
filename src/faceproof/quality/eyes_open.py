"""Eye openness (``eyes_open_metric``, ``eyes_status``) from the eyelid landmarks.

raw: eye aspect ratio, the mean lid gap over the 5 central lid pairs divided by the corner
distance, averaged over both eyes (a rotation- and scale-free opening). With the iris model's
eye contour an open eye measures ≈ 0.2–0.35 and a closed one ≈ 0.02–0.07 (LFW); the coarse
mesh lids barely move (≈ 0.18–0.30), so they have their own, less reliable, calibration.
The metric is the ratio placed linearly between ``closed`` (0) and ``wide`` (100), so a normal
open eye reads ≈ 40–80 and a closed one < 10, the reference's OPEN/CLOSED cut.
"""

from __future__ import annotations

import numpy as np

from faceproof.quality.config import EYES_OPEN, EyeOpenCalibration
from faceproof.quality.measure import MeasureResult
from faceproof.quality.session import EyeLids, QualitySession

OPEN_THRESHOLD = 10.0  # reference: OPEN when eyes_open_metric >= 10


def aspect_ratio(lids: EyeLids) -> float:
    corners, lower, upper = lids
    width = float(np.hypot(*(corners[1] - corners[0])))
    if width <= 1e-6:
        return 0.0
    gaps = np.hypot(*(upper[1:6] - lower[1:6]).T)
    return float(gaps.mean()) / width


class EyesOpen:
    def __init__(self, calibration: dict[str, EyeOpenCalibration] | None = None) -> None:
        self.calibration = calibration or EYES_OPEN

    def measure(self, s: QualitySession) -> MeasureResult:
        lm = s.record.landmarks
        source = "iris" if lm is not None and lm.eye_contour is not None else "mesh"
        cal = self.calibration[source]
        raw = float(np.mean([aspect_ratio(e) for e in s.eyelids]))
        score = 100.0 * (raw - cal.closed) / (cal.wide - cal.closed)
        return MeasureResult(raw, float(np.clip(score, 0.0, 100.0)))


def eyes_status(metric: float) -> str:
    return "OPEN" if metric >= OPEN_THRESHOLD else "CLOSED"
