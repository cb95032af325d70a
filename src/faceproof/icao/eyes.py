"""ICAO ``eyes_full_visibility``: false when the eyes are closed, behind dark glasses, or
glared over (reference: "eyes are detected as closed, dark glasses are worn, or there is
glare").

* closed: ``eyes_status`` is CLOSED (eyes_open_metric < 10);
* dark glasses (or anything else over an eye): either eye's visibility below ``EYE_VISIBLE``;
* glare: in either eye's surroundings (where lenses sit), more than ``GLARE_SHARE`` of the
  pixels are colourless highlights (L* ≥ ``GLARE_LIGHTNESS``). Corneal catchlights stay far
  below that share (max 0.3 % over our portraits); a reflection on a lens does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceproof.quality.config import EYE_VISIBLE, GLARE_CHROMA, GLARE_LIGHTNESS, GLARE_SHARE
from faceproof.quality.eyes_open import OPEN_THRESHOLD
from faceproof.quality.session import QualitySession


def glare_share(s: QualitySession, side: str) -> float:
    """Share of one eye's surroundings (lids included) in colourless highlight."""
    region = s.region(f"periocular_{side}")
    n = int(np.count_nonzero(region))
    if n == 0:
        return 0.0
    hot = (s.lab[:, :, 0][region] >= GLARE_LIGHTNESS) & (s.chroma[region] < GLARE_CHROMA)
    return float(np.count_nonzero(hot)) / n


@dataclass(frozen=True)
class EyesVisibility:
    visible: bool
    closed: bool
    covered: bool
    glare: bool


class EyesFullVisibility:
    def measure(
        self, s: QualitySession, eyes_open_metric: float, eye_l: int, eye_r: int
    ) -> EyesVisibility:
        closed = eyes_open_metric < OPEN_THRESHOLD
        covered = min(eye_l, eye_r) < EYE_VISIBLE
        glare = max(glare_share(s, "l"), glare_share(s, "r")) > GLARE_SHARE
        return EyesVisibility(not (closed or covered or glare), closed, covered, glare)
