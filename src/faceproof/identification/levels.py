"""Open-set identification levels: each names a false-positive identification rate (FPIR).

A search of someone who is **not** enrolled is a false positive when its best candidate
reaches the level. With ``N`` templates in the gallery, that search makes ``N`` impostor
comparisons; if their scores were independent, each with false-match rate ``FMR(t)`` at
threshold ``t``,

    FPIR(t, N) = 1 − (1 − FMR(t))^N  ≈  N · FMR(t)   (small rates)

so holding FPIR fixed as the gallery grows needs ``FMR(t) = 1 − (1 − FPIR)^(1/N)``: a
stricter threshold for a larger gallery. The calibration file holds the per-comparison
impostor curve (measured where the data supports it, an exponential tail beyond) and the
server computes the threshold for the gallery's current size at each search. The file also
records how well the independence model predicted FPIR measured with real impostor searches
(a probe that resembles many people breaks independence, so the model can be optimistic).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.config import ConfigError
from faceproof.error_rates import SUPPORT_FACTOR, thresholds_at_accept_rates
from faceproof.matching.calibration import fit_tail
from faceproof.matching.levels import LEVELS, NONE

FORMAT = "faceproof-identification-calibration"
VERSION = 1
FPIR_TARGETS: dict[str, float] = {
    "LOW": 1e-1,
    "MEDIUM": 1e-2,
    "HIGH": 1e-3,
    "VERY_HIGH": 1e-4,
    "HIGHEST": 1e-5,
}
STATED_SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
MAX_SIMILARITY = 0.9999


def fmr_for(fpir: float, n: int) -> float:
    """Per-comparison false-match rate that gives ``fpir`` over ``n`` independent comparisons."""
    return -math.expm1(math.log1p(-fpir) / max(int(n), 1))


@dataclass(frozen=True)
class ImpostorCurve:
    """Similarity threshold as a function of the per-comparison false-match rate."""

    fmr: tuple[float, ...]  # decreasing, measured points (fmr >= supported_fmr)
    similarity: tuple[float, ...]  # increasing
    supported_fmr: float  # 3 / impostor pairs: below it, the tail model answers
    tail_u: float
    tail_rate_u: float
    tail_scale: float
    max_impostor: float

    def threshold(self, fmr: float) -> float:
        if fmr >= self.supported_fmr:
            x = np.log10(np.asarray(self.fmr[::-1]))
            y = np.asarray(self.similarity[::-1])
            t = float(np.interp(math.log10(fmr), x, y))
        else:
            t = self.tail_u + self.tail_scale * math.log(self.tail_rate_u / fmr)
            # Not floored at the highest impostor seen (as the 1:1 levels are): one outlier
            # pair (a look-alike, a twin, a label error) would then set every strict level
            # of every large gallery. The tail model answers, above the last measured point.
            t = max(t, float(self.similarity[-1]))
        return min(t, MAX_SIMILARITY)


@dataclass(frozen=True, eq=False)  # hashed by identity: thresholds are cached per file
class IdentificationCalibration:
    curve: ImpostorCurve
    fpir: dict[str, float]
    model: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)

    def threshold(self, level: str, gallery_size: int) -> float:
        return _threshold(self, level, max(int(gallery_size), 1))

    def level_reached(self, similarity: float, gallery_size: int) -> str:
        reached = NONE
        for level in LEVELS:
            if similarity >= self.threshold(level, gallery_size):
                reached = level
        return reached

    def table(self, sizes: tuple[int, ...] = STATED_SIZES) -> dict[str, dict[str, float]]:
        """{gallery size: {level: threshold}} for reports and the file."""
        return {str(n): {lv: round(self.threshold(lv, n), 6) for lv in LEVELS} for n in sizes}

    def to_json(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        c = self.curve
        return {
            "format": FORMAT,
            "version": VERSION,
            **(extra or {}),
            "model": self.model,
            "data": self.data,
            "fpir_targets": self.fpir,
            "impostor_curve": {
                "fmr": list(c.fmr),
                "similarity": list(c.similarity),
                "supported_fmr": c.supported_fmr,
                "tail": {"u": c.tail_u, "rate_u": c.tail_rate_u, "scale": c.tail_scale},
                "max_impostor": c.max_impostor,
            },
            "thresholds_by_gallery_size": self.table(),
            "validation": self.validation,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> IdentificationCalibration:
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} v{VERSION} file")
        c = doc["impostor_curve"]
        curve = ImpostorCurve(
            fmr=tuple(float(x) for x in c["fmr"]),
            similarity=tuple(float(x) for x in c["similarity"]),
            supported_fmr=float(c["supported_fmr"]),
            tail_u=float(c["tail"]["u"]),
            tail_rate_u=float(c["tail"]["rate_u"]),
            tail_scale=float(c["tail"]["scale"]),
            max_impostor=float(c["max_impostor"]),
        )
        if len(curve.fmr) < 2 or len(curve.fmr) != len(curve.similarity):
            raise ValueError("impostor curve needs at least two points")
        if any(b >= a for a, b in zip(curve.fmr, curve.fmr[1:], strict=False)):
            raise ValueError("impostor curve FMRs must decrease")
        if any(b < a for a, b in zip(curve.similarity, curve.similarity[1:], strict=False)):
            raise ValueError("impostor curve similarities must not decrease")
        fpir = {lv: float(doc["fpir_targets"][lv]) for lv in LEVELS}
        if any(not math.isclose(fpir[lv], FPIR_TARGETS[lv]) for lv in LEVELS):
            raise ValueError("FPIR targets differ from the contract")
        return cls(
            curve,
            fpir,
            dict(doc["model"]),
            dict(doc.get("data", {})),
            dict(doc.get("validation", {})),
        )


@lru_cache(maxsize=4096)
def _threshold(cal: IdentificationCalibration, level: str, n: int) -> float:
    return cal.curve.threshold(fmr_for(cal.fpir[level], n))


def load_identification_calibration(path: Path | None = None) -> IdentificationCalibration:
    where = str(path) if path else "faceproof/data/identification_calibration.json"
    try:
        if path is None:
            text = (
                resources.files("faceproof")
                .joinpath("data/identification_calibration.json")
                .read_text()
            )
        else:
            text = Path(path).read_text(encoding="utf-8")
        return IdentificationCalibration.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"identification calibration {where}: {exc}") from None


def fit_curve(impostor: NDArray[np.float32], points_per_decade: int = 8) -> ImpostorCurve:
    """The impostor curve from every impostor similarity of the calibration set.

    Measured points run from FMR 0.5 down to 3/N (rule of three: below it the data cannot
    support the rate); the exponential tail over the top impostor scores (as in the 1:1
    calibration, ``matching.calibration.fit_tail``) extrapolates further (``max_impostor``
    is recorded, not used as a floor: see ``ImpostorCurve.threshold``).
    """
    n = len(impostor)
    if n < 1000:
        raise ValueError(f"too few impostor pairs ({n}) to calibrate identification")
    supported = SUPPORT_FACTOR / n  # the lowest rate n pairs support (rule of three)
    top_n = min(n, max(2000, n // 100))
    top_desc = np.sort(np.partition(impostor, n - top_n)[n - top_n :])[::-1].astype(np.float64)
    tail = fit_tail(top_desc, n)
    if tail is None:
        raise ValueError("impostor tail could not be fitted")
    decades = math.log10(0.5 / supported)
    fmrs = np.geomspace(0.5, supported, max(2, int(decades * points_per_decade) + 1))
    measured = thresholds_at_accept_rates(impostor, [float(f) for f in fmrs], float32=True)
    sims = list(np.maximum.accumulate(np.asarray(measured)))
    return ImpostorCurve(
        fmr=tuple(float(f) for f in fmrs),
        similarity=tuple(float(s) for s in sims),
        supported_fmr=float(fmrs[-1]),
        tail_u=round(tail.u, 6),
        tail_rate_u=tail.rate_u,
        tail_scale=round(tail.scale, 6),
        max_impostor=float(top_desc[0]),
    )
