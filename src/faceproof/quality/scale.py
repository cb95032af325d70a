"""Raw measure → 0–100 quality component, OFIQ style.

Every measure produces a raw value in its natural unit (a ratio, a fraction of pixels, a
pixel distance); a logistic curve maps it to 0–100 so each measure is tuned by two numbers
(the raw value that scores 50, and how quickly the score moves around it) kept in
:mod:`faceproof.quality.config`, not buried in the measure's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def sigmoid_map(x: float, x0: float, w: float, invert: bool = False) -> float:
    """``100 / (1 + exp(-(x - x0) / w))``; with ``invert`` the mirror ``100 - …``.

    ``x0`` is the raw value that scores 50, ``w`` (> 0) the spread: the score moves from
    27 to 73 between ``x0 - w`` and ``x0 + w``. Non-finite input scores 0 (a measure
    that could not be computed must never look good).
    """
    if w <= 0:
        raise ValueError("sigmoid width must be positive")
    if not math.isfinite(x):
        return 0.0
    z = max(-60.0, min(60.0, (x - x0) / w))
    s = 100.0 / (1.0 + math.exp(-z))
    return 100.0 - s if invert else s


@dataclass(frozen=True)
class Sigmoid:
    """The two tuning numbers of one measure, plus its direction."""

    x0: float
    w: float
    invert: bool = False
    # Rescale so that x = 0 scores exactly 0 (for shares where 0 means "none at all", e.g.
    # over-exposed pixels: a clean face should read 0, not the curve's small floor).
    zero_at_zero: bool = False

    def __call__(self, x: float) -> float:
        s = sigmoid_map(x, self.x0, self.w, self.invert)
        if self.zero_at_zero and not self.invert and math.isfinite(x):
            floor = sigmoid_map(0.0, self.x0, self.w)
            s = max(0.0, (s - floor) / (100.0 - floor) * 100.0)
        return s
