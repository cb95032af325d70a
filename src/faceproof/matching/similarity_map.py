"""similarityScore: raw cosine similarity → integer 0–100 through the documented anchors.

The reference promises that the score keeps its meaning whatever the model (80 ↔ FAR 1:1k for
selfies, …). So the map is not a formula of the cosine but a piecewise-linear curve through
the *calibrated* thresholds: (zero point → 0), (threshold of each anchored level → its score),
(cosine 1.0 → 100). Flooring, clamped below the next anchor, makes the anchors exact:
``score >= 80`` holds if and only if the MEDIUM threshold is met, never by rounding.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

TOP_SIMILARITY = 1.0  # identical embeddings


@dataclass(frozen=True)
class SimilarityMap:
    xs: tuple[float, ...]  # similarities, strictly increasing
    ys: tuple[int, ...]  # scores, non-decreasing, ys[0] == 0 and ys[-1] == 100

    @classmethod
    def build(cls, zero_similarity: float, anchors: Sequence[tuple[float, int]]) -> SimilarityMap:
        """``anchors``: (threshold similarity, score) pairs, strongest last."""
        xs = [zero_similarity, *(a[0] for a in anchors), TOP_SIMILARITY]
        ys = [0, *(a[1] for a in anchors), 100]
        if any(b <= a for a, b in itertools.pairwise(xs)):
            raise ValueError("similarity map points must be strictly increasing")
        if any(b < a for a, b in itertools.pairwise(ys)):
            raise ValueError("similarity map scores must be non-decreasing")
        return cls(tuple(float(x) for x in xs), tuple(int(y) for y in ys))

    def __call__(self, similarity: float) -> int:
        s = float(similarity)
        if math.isnan(s) or s < self.xs[0]:
            return 0
        if s >= self.xs[-1]:
            return self.ys[-1]
        i = bisect.bisect_right(self.xs, s) - 1  # xs[i] <= s < xs[i + 1]
        x0, x1, y0, y1 = self.xs[i], self.xs[i + 1], self.ys[i], self.ys[i + 1]
        value = math.floor(y0 + (y1 - y0) * (s - x0) / (x1 - x0))
        # Never reach the next anchor's score before its threshold is actually met.
        return max(y0, min(value, y1 - 1)) if y1 > y0 else y0
