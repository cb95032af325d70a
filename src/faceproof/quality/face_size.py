"""Face size: the inter-eye distance in photo pixels (ISO/IEC 19794-5's geometry measure).

raw: distance between the eye centres (iris centres when available), pixels. A recogniser's
112-pixel aligned face has ~38 px between the eyes; below that the face is upsampled and
detail is invented, not measured; ICAO photos want 90+.
"""

from __future__ import annotations

from faceproof.quality.config import MEASURES
from faceproof.quality.measure import MeasureResult
from faceproof.quality.scale import Sigmoid
from faceproof.quality.session import QualitySession


class FaceSize:
    def __init__(self, curve: Sigmoid | None = None) -> None:
        self.curve = curve or MEASURES["face_size"]

    def measure(self, s: QualitySession) -> MeasureResult:
        raw = s.inter_eye_distance
        return MeasureResult(raw, self.curve(raw))
