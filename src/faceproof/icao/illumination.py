"""ICAO ``illumination_uniformity``: is the face lit evenly, left against right?

ISO/IEC 29794-5 (OFIQ "illumination uniformity") compares the luminance histograms of the two
face halves: under frontal, diffuse light the halves of a (nearly) symmetric face share their
histogram; side light darkens one half and shifts it. raw: histogram intersection
Σ min(h_left, h_right) of the normalised 32-bin luma histograms of the face skin on each side
of the mesh midline, 0 (disjoint) … 1 (identical).
"""

from __future__ import annotations

import numpy as np

from faceproof.quality.config import MEASURES
from faceproof.quality.measure import MeasureResult
from faceproof.quality.session import QualitySession

BINS = 32


def _hist(values: np.ndarray) -> np.ndarray:
    """``np.histogram(values, BINS, range=(0, 256))[0]``, normalised. The bin width (8) is a
    power of two, so ``value / 8`` is exact and its floor is the bin NumPy's edge tests give;
    counting with ``bincount`` skips NumPy's generic edge search."""
    v = np.asarray(values, dtype=np.float64)
    v = v[(v >= 0.0) & (v <= 256.0)]
    idx = np.minimum((v * (BINS / 256.0)).astype(np.intp), BINS - 1)
    h = np.bincount(idx, minlength=BINS)
    total = h.sum()
    return h / total if total else h.astype(np.float64)


class IlluminationUniformity:
    def measure(self, s: QualitySession) -> MeasureResult:
        left = s.luma[s.region("half_l") & s.face_skin]
        right = s.luma[s.region("half_r") & s.face_skin]
        if left.size < 20 or right.size < 20:  # a half outside the photo cannot be even
            return MeasureResult(0.0, MEASURES["illumination"](0.0))
        raw = float(np.minimum(_hist(left), _hist(right)).sum())
        return MeasureResult(raw, MEASURES["illumination"](raw))
