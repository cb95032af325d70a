"""Security levels of the match endpoints and the false-accept rate each one stands for.

The FAR targets and the similarityScore anchors are the reference's documented contract; the
similarity thresholds that realise them are model-specific and live in the calibration file.
"""

from __future__ import annotations

from typing import Literal

from faceproof.errors import parse_level_name

Kind = Literal["selfie", "id"]
KINDS: tuple[Kind, ...] = ("selfie", "id")

# Ordered weakest → strongest; "NONE" is only ever an answer, never a request.
LEVELS: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH", "VERY_HIGH", "HIGHEST")
NONE = "NONE"

FAR_TARGETS: dict[Kind, dict[str, float]] = {
    "selfie": {"LOW": 1e-2, "MEDIUM": 1e-3, "HIGH": 1e-4, "VERY_HIGH": 1e-5, "HIGHEST": 1e-6},
    "id": {"LOW": 1e-2, "MEDIUM": 1 / 200, "HIGH": 1e-3, "VERY_HIGH": 1 / 5000, "HIGHEST": 1e-4},
}

# similarityScore anchors: (level whose threshold is the anchor, score at that threshold).
# selfie: 80 ↔ 1:1k, 90 ↔ 1:10k, 95 ↔ 1:100k, 98 ↔ 1:1M;
# id:     60 ↔ 1:200, 80 ↔ 1:1k, 85 ↔ 1:5k, 90 ↔ 1:10k.
SCORE_ANCHORS: dict[Kind, tuple[tuple[str, int], ...]] = {
    "selfie": (("MEDIUM", 80), ("HIGH", 90), ("VERY_HIGH", 95), ("HIGHEST", 98)),
    "id": (("MEDIUM", 60), ("HIGH", 80), ("VERY_HIGH", 85), ("HIGHEST", 90)),
}


def parse_level(value: object, field: str = "/level") -> str:
    """The requested level, or 505.

    The rule of every level field (faceproof.errors.parse_level_name): the documented names,
    case-insensitive; ``NONE`` is an outcome, not something one can ask for, so it is
    refused too.
    """
    return parse_level_name(value, LEVELS, field, liveness=False)


def rank(level: str) -> int:
    """0 for NONE, 1 for LOW … 5 for HIGHEST: comparable strength."""
    return 0 if level == NONE else LEVELS.index(level) + 1


def far_label(far: float) -> str:
    """'1:1k'-style label of a FAR target (for reports)."""
    n = round(1 / far)
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"1:{n // div}{suffix}"
    return f"1:{n}"
