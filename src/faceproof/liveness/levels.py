"""The eight documented liveness security levels as operating points on the passive score.

Each level is defined by the attack presentation classification error rate (APCER, ISO/IEC
30107-3: the share of attack presentations of one attack type — PAI species — wrongly
accepted as bona fide) it aims at. Its threshold is the lowest liveness score at which
**every** attack type's APCER on the development data is at most the target (the worst type
decides, as the standard reports APCER per species, not pooled); higher levels aim at fewer
accepted attacks and so need higher scores, at the price of more bona fide presentations
refused (BPCER, stated per level).

A level is **supported** by an attack type only when that type has at least 3/target attacks
(rule of three, as the match calibration: with fewer, even zero accepted attacks would not
bound the APCER at the target with 95 % confidence); the file lists, per level, the types
that do not support it. ``sdk_passive_floor`` is a separate, low-BPCER operating point for
challenge captures (the challenge carries the security; the passive score only has to stop
the obvious attacks without refusing real users). The thresholds, the digests of the fusion
model and of the data they were calibrated on are kept in a versioned JSON file
(``data/liveness_calibration.json``), written by ``faceproof liveness train``.
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

from faceproof.error_rates import (
    accept_rate,
    next_above,
    reject_rate,
    supported,
    threshold_at_reject_rate,
)
from faceproof.liveness.metrics import threshold_at_apcer

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
# BPCER aimed at by `sdk_passive_floor` on the bona fide calibration data.
FLOOR_TARGET_BPCER = 0.01


LEVEL_KEYS = ("name", "target_apcer", "threshold")


@dataclass(frozen=True)
class LivenessCalibration:
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

    @property
    def sdk_passive_floor(self) -> float:
        """Passive score a challenge capture needs (low-BPCER point; LOW's threshold when the
        file has none)."""
        floor = self.meta.get("sdk_passive_floor")
        if isinstance(floor, Mapping):
            return float(floor["threshold"])
        return float(self.thresholds["LOW"])

    def unsupported(self, level: str) -> dict[str, int]:
        """Attack types (→ their count) too few to support ``level``'s target (rule of three)."""
        info = self.meta.get("levels", {}).get(level, {})
        return {str(k): int(v) for k, v in info.get("unsupported_by", {}).items()}

    def to_json(self) -> dict[str, Any]:
        levels_meta = self.meta.get("levels", {})
        return {
            "format": "faceproof-liveness-calibration",
            "version": 1,
            "score": "liveness score = passive score (1 = bona fide); pass at >= threshold",
            "levels": [
                {
                    "name": n,
                    "target_apcer": TARGET_APCER[n],
                    "threshold": self.thresholds[n],
                    **levels_meta.get(n, {}),
                }
                for n in LEVELS
            ],
            "meta": {k: v for k, v in self.meta.items() if k != "levels"},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], digest: str = "") -> LivenessCalibration:
        if data.get("format") != "faceproof-liveness-calibration" or data.get("version") != 1:
            raise ValueError("not a faceproof liveness calibration file (version 1)")
        thresholds = {str(e["name"]): float(e["threshold"]) for e in data["levels"]}
        meta = dict(data.get("meta", {}))
        extra = {
            str(e["name"]): {k: v for k, v in e.items() if k not in LEVEL_KEYS}
            for e in data["levels"]
        }
        if any(extra.values()):
            meta["levels"] = extra
        floor = meta.get("sdk_passive_floor")
        if floor is not None and not (
            isinstance(floor, Mapping) and 0.0 <= float(floor["threshold"]) <= 1.0
        ):
            raise ValueError("sdk_passive_floor must hold a threshold in [0, 1]")
        return cls(thresholds, meta, digest)


def load_liveness_calibration(path: Path | None = None) -> LivenessCalibration:
    raw = (
        Path(path).read_bytes()
        if path
        else resources.files("faceproof").joinpath("data", CALIBRATION_FILE).read_bytes()
    )
    return LivenessCalibration.from_json(json.loads(raw), hashlib.sha256(raw).hexdigest())


def calibrate(
    attacks_by_type: Mapping[str, Sequence[float] | NDArray[np.float64]],
    bona_fide_scores: Sequence[float] | NDArray[np.float64],
    meta: Mapping[str, Any] | None = None,
    *,
    floor_bpcer: float = FLOOR_TARGET_BPCER,
) -> LivenessCalibration:
    """Thresholds at each level's target APCER for the worst attack type, and the SDK floor.

    Per type, the threshold is the smallest score that at most ``floor(target × N_type)`` of
    its attacks reach (ties resolved against the attacker); the level takes the highest over
    the types, nudged up where needed so the levels stay strictly ordered. A type with fewer
    than ``3 / target`` attacks does not support the level (recorded, not hidden). Achieved
    APCER per type and BPCER on the same scores are recorded per level. ``sdk_passive_floor``
    is the highest threshold whose BPCER on the bona fide scores is at most ``floor_bpcer``.
    """
    by_type = {k: np.asarray(v, dtype=np.float64) for k, v in attacks_by_type.items()}
    by_type = {k: v for k, v in by_type.items() if v.size}
    bona = np.asarray(bona_fide_scores, dtype=np.float64)
    if not by_type or bona.size == 0:
        raise ValueError("calibration needs attack and bona fide scores")
    thresholds: dict[str, float] = {}
    per_level: dict[str, dict[str, Any]] = {}
    previous = -np.inf
    for name in LEVELS:
        target = TARGET_APCER[name]
        t = threshold_at_apcer(by_type, target)
        if t <= previous:
            t = next_above(previous)
        thresholds[name] = t
        previous = t
        apcers = {k: accept_rate(v, t) for k, v in by_type.items()}
        per_level[name] = {
            "worst_type": max(apcers, key=lambda k: (apcers[k], by_type[k].size)),
            "apcer": {k: round(a, 6) for k, a in apcers.items()},
            "bpcer": round(reject_rate(bona, t), 6),
            "supported": all(supported(v.size, target) for v in by_type.values()),
            "unsupported_by": {
                k: int(v.size) for k, v in by_type.items() if not supported(v.size, target)
            },
        }
    floor = threshold_at_reject_rate(bona, floor_bpcer)
    info = dict(meta or {})
    info["levels"] = per_level
    info["attacks_per_type"] = {k: int(v.size) for k, v in by_type.items()}
    info["n_bona_fide"] = int(bona.size)
    info["sdk_passive_floor"] = {
        "threshold": floor,
        "target_bpcer": floor_bpcer,
        "bpcer": round(reject_rate(bona, floor), 6),
        "apcer": {k: round(accept_rate(v, floor), 6) for k, v in by_type.items()},
    }
    return LivenessCalibration(thresholds, info)
