"""Face exposure as a quality component: is the face's skin neither too dark nor too bright?

Read on the face skin only (eyes, brows, lips, nostrils removed), so a dark background or a
white shirt does not move it. OFIQ-style luminance statistics in BT.601 luma (0–255):

* mean luma — scored on both sides (``exposure_dark`` / ``exposure_bright`` curves);
* the share of pixels without detail: at or below ``DARK_LUMA`` or at or above
  ``BRIGHT_LUMA`` (``exposure_clipped`` curve).

raw: the mean luma; the score is the lowest of the three curve values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceproof.quality.config import BRIGHT_LUMA, DARK_LUMA, MEASURES
from faceproof.quality.measure import MeasureResult
from faceproof.quality.session import QualitySession


@dataclass(frozen=True)
class LumaStats:
    mean: float
    dark: float  # share ≤ DARK_LUMA
    bright: float  # share ≥ BRIGHT_LUMA


def face_luma_stats(s: QualitySession) -> LumaStats:
    y = s.face_luma
    if y.size == 0:  # no face skin in the photo at all: nothing is exposed correctly
        return LumaStats(float("nan"), 1.0, 0.0)
    return LumaStats(
        float(y.mean()), float(np.mean(y <= DARK_LUMA)), float(np.mean(y >= BRIGHT_LUMA))
    )


class Exposure:
    def measure(self, s: QualitySession) -> MeasureResult:
        st = face_luma_stats(s)
        score = min(
            MEASURES["exposure_dark"](st.mean),
            MEASURES["exposure_bright"](st.mean),
            MEASURES["exposure_clipped"](st.dark + st.bright),
        )
        return MeasureResult(st.mean, score)
