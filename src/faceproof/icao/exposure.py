"""ICAO ``over_exposure`` / ``under_exposure``: how much of the face has lost its detail.

raw: the share of face-skin pixels (eyes, brows, lips, nostrils removed) at or above
``BRIGHT_LUMA`` (over) or at or below ``DARK_LUMA`` (under), BT.601 luma 0–255, the OFIQ
over/under-exposure-prevention populations. High score = a lot of it (reference wording), so
a well-exposed face reads near 0 on both, as in the reference's examples.
"""

from __future__ import annotations

from faceproof.quality.config import MEASURES
from faceproof.quality.exposure import face_luma_stats
from faceproof.quality.measure import MeasureResult
from faceproof.quality.session import QualitySession


class OverExposure:
    def measure(self, s: QualitySession) -> MeasureResult:
        raw = face_luma_stats(s).bright
        return MeasureResult(raw, MEASURES["over_exposure"](raw))


class UnderExposure:
    def measure(self, s: QualitySession) -> MeasureResult:
        raw = face_luma_stats(s).dark
        return MeasureResult(raw, MEASURES["under_exposure"](raw))
