"""Sharpness: how much fine detail the face has, independent of its contrast and size.

No-reference "re-blur" measure (Crété-Roffet et al., 2007, "The blur effect"): blur the
face once more and see how much of its neighbouring-pixel variation disappears. A sharp face
loses a lot (its detail lived at the finest scale), an already blurred or upsampled face loses
little. The ratio is contrast-invariant (a dim sharp face is still sharp) and, measured on the
face-normalised crop, comparable across face sizes; a small face upsampled into the crop is
soft, which is the right answer for a face with little real detail.

raw: share of absolute horizontal+vertical differences removed by a Gaussian re-blur (σ =
``SIGMA`` crop pixels), over the face oval inside the photo; ~0.5 sharp, < 0.2 blurred.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceproof.quality.config import MEASURES
from faceproof.quality.measure import MeasureResult
from faceproof.quality.scale import Sigmoid
from faceproof.quality.session import QualitySession

SIGMA = 1.5


def reblur_ratio(grey: np.ndarray, mask: np.ndarray, sigma: float = SIGMA) -> float:
    """Share of first differences lost to a re-blur, within ``mask`` (0 when flat)."""
    g = grey.astype(np.float32)
    b = cv2.GaussianBlur(g, (0, 0), sigma)
    total, lost = 0.0, 0.0
    for axis in (0, 1):
        dg = np.abs(np.diff(g, axis=axis))
        db = np.abs(np.diff(b, axis=axis))
        m = mask[1:, :] & mask[:-1, :] if axis == 0 else mask[:, 1:] & mask[:, :-1]
        total += float(dg[m].sum())
        lost += float(np.maximum(dg - db, 0.0)[m].sum())
    return lost / total if total > 0 else 0.0


class Sharpness:
    def __init__(self, curve: Sigmoid | None = None) -> None:
        self.curve = curve or MEASURES["sharpness"]

    def measure(self, s: QualitySession) -> MeasureResult:
        raw = reblur_ratio(s.luma, s.region("face") & s.valid)
        return MeasureResult(raw, self.curve(raw))
