"""The result every quality measure returns: its raw value and its 0–100 score."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasureResult:
    """``raw`` in the measure's own unit (documented per measure), ``score`` 0–100."""

    raw: float
    score: float
