"""The eight documented liveness security levels as operating points on the fused score.

Each level is defined by the attack presentation classification error rate (APCER, ISO/IEC
30107-3: the share of attack presentations wrongly accepted as bona fide) it aims at. Its
threshold is the liveness score above which no more than that share of the development
attacks lies; higher levels aim at fewer accepted attacks and so need higher scores, at the
price of more bona fide presentations refused (BPCER). The thresholds, the targets, and the
digests of the fusion model and of the data they were calibrated on are kept in a versioned
JSON file (``data/liveness_calibration.json``), written by ``faceproof liveness train``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

CALIBRATION_FILE = "liveness_calibration.json"

# Lowest to highest, as documented; the APCER each level aims at on the dev data.
LEVELS: tuple[str, ...] = (
    "LOW",
    "MEDIUM",
    "MODERATE",
    "BALANCED_HIGH",
    "HIGH",
    "BALANCED_VERY_HIGH",
    "VERY_HIGH",
    "HIGHEST",
)
TARGET_APCER: dict[str, float] = {
    "LOW": 0.20,
    "MEDIUM": 0.10,
    "MODERATE": 0.05,
    "BALANCED_HIGH": 0.03,
    "HIGH": 0.02,
    "BALANCED_VERY_HIGH": 0.01,
    "VERY_HIGH": 0.005,
    "HIGHEST": 0.001,
}
DEFAULT_LEVEL = "BALANCED_VERY_HIGH"


@dataclass(frozen=True)
class Calibration:
    """Thresholds per level (liveness score; a capture passes a level at score >= threshold)."""

    thresholds: dict[str, float]
    meta: Mapping[str, Any]
    digest: str = ""

    def __post_init__(self) -> None:
        if list(self.thresholds) != list(LEVELS):
            raise ValueError("calibration must list the eight levels in order")
        values = [self.thresholds[n] for n in LEVELS]
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError("level thresholds must increase strictly from LOW to HIGHEST")

    def highest_level(self, score: float) -> str | None:
        """The highest level whose threshold the score reaches; None below LOW."""
        reached = None
        for name in LEVELS:
            if score >= self.thresholds[name]:
                reached = name
        return reached

    def passes(self, score: float, level: str) -> bool:
        return score >= self.thresholds[level]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "faceproof-liveness-calibration",
            "version": 1,
            "score": "liveness score = 1 - P(attack) of the fusion model; pass at >= threshold",
            "levels": [
                {"name": n, "target_apcer": TARGET_APCER[n], "threshold": self.thresholds[n]}
                for n in LEVELS
            ],
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], digest: str = "") -> Calibration:
        if data.get("format") != "faceproof-liveness-calibration" or data.get("version") != 1:
            raise ValueError("not a faceproof liveness calibration file (version 1)")
        thresholds = {str(e["name"]): float(e["threshold"]) for e in data["levels"]}
        return cls(thresholds, dict(data.get("meta", {})), digest)


def load_calibration(path: Path | None = None) -> Calibration:
    raw = (
        Path(path).read_bytes()
        if path
        else resources.files("faceproof").joinpath("data", CALIBRATION_FILE).read_bytes()
    )
    return Calibration.from_json(json.loads(raw), hashlib.sha256(raw).hexdigest())


def normalise_level(value: str | None) -> str | None:
    """The canonical level name, or None when ``value`` is not one of the eight."""
    if value is None:
        return None
    name = value.strip().upper()
    return name if name in LEVELS else None


def calibrate(
    attack_scores: Sequence[float] | NDArray[np.float64],
    bona_fide_scores: Sequence[float] | NDArray[np.float64],
    meta: Mapping[str, Any] | None = None,
) -> Calibration:
    """Thresholds at each level's target APCER on the given liveness scores.

    The threshold of a level is the smallest score that at most ``target × N`` attacks reach
    (ties resolved against the attacker), nudged up where needed so the levels stay strictly
    ordered. Achieved APCER/BPCER on the same scores are recorded in ``meta``.
    """
    attacks = np.sort(np.asarray(attack_scores, dtype=np.float64))
    bona = np.asarray(bona_fide_scores, dtype=np.float64)
    if attacks.size == 0 or bona.size == 0:
        raise ValueError("calibration needs attack and bona fide scores")
    thresholds: dict[str, float] = {}
    achieved: dict[str, dict[str, float]] = {}
    previous = -np.inf
    for name in LEVELS:
        allowed = int(np.floor(TARGET_APCER[name] * attacks.size))
        # Accepting `allowed` attacks: the threshold sits just above the next-highest one.
        cut = attacks[attacks.size - allowed - 1]
        t = float(np.nextafter(cut, np.inf))
        if t <= previous:
            t = float(np.nextafter(previous, np.inf))
        thresholds[name] = t
        previous = t
        achieved[name] = {
            "apcer": float(np.mean(attacks >= t)),
            "bpcer": float(np.mean(bona < t)),
        }
    info = dict(meta or {})
    info["achieved_on_calibration_data"] = achieved
    return Calibration(thresholds, info)
