"""PAD error rates in ISO/IEC 30107-3 terms.

* **APCER** (attack presentation classification error rate): share of attack presentations
  of one attack type (presentation attack instrument species) classified as bona fide.
  The standard reports it per type; the overall figure is the worst type's.
* **BPCER** (bona fide presentation classification error rate): share of bona fide
  presentations classified as attacks.
* **BPCER@APCER=x**: BPCER at the threshold where the worst type's APCER is at most x.

Scores here are liveness scores (high = bona fide); a presentation is classified bona fide at
``score >= threshold``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

Arr = NDArray[np.float64]


def apcer(attack_scores: Arr, threshold: float) -> float:
    return float(np.mean(attack_scores >= threshold)) if attack_scores.size else float("nan")


def bpcer(bona_scores: Arr, threshold: float) -> float:
    return float(np.mean(bona_scores < threshold)) if bona_scores.size else float("nan")


def threshold_at_apcer(attacks_by_type: Mapping[str, Arr], target: float) -> float:
    """The lowest threshold at which every attack type's APCER is at most ``target``."""
    t = -np.inf
    for scores in attacks_by_type.values():
        if not scores.size:
            continue
        s = np.sort(scores)
        allowed = int(np.floor(target * s.size))
        t = max(t, float(np.nextafter(s[s.size - allowed - 1], np.inf)))
    return float(t)


def bpcer_at_apcer(bona: Arr, attacks_by_type: Mapping[str, Arr], target: float) -> float:
    return bpcer(bona, threshold_at_apcer(attacks_by_type, target))


def auc(bona: Arr, attacks: Arr) -> float:
    """Probability that a random bona fide scores above a random attack (ties count half)."""
    if not bona.size or not attacks.size:
        return float("nan")
    allv = np.concatenate([bona, attacks])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(allv.size, dtype=np.float64)
    sorted_v = allv[order]
    # Average ranks over ties.
    i = 0
    while i < sorted_v.size:
        j = i
        while j + 1 < sorted_v.size and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r_bona = ranks[: bona.size].sum()
    return float((r_bona - bona.size * (bona.size + 1) / 2) / (bona.size * attacks.size))


def det_points(bona: Arr, attacks: Arr) -> tuple[Arr, Arr]:
    """(APCER, BPCER) over all thresholds, for a DET curve."""
    ts = np.unique(np.concatenate([bona, attacks, [np.inf]]))
    ap = np.array([apcer(attacks, t) for t in ts])
    bp = np.array([bpcer(bona, t) for t in ts])
    return ap, bp


def summary(
    bona: Sequence[float] | Arr,
    attacks_by_type: Mapping[str, Sequence[float] | Arr],
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, object]:
    """APCER per type, BPCER, BPCER@APCER 1 %/5 % (worst type), AUC (pooled and per type) and
    per-level rates (JSON-ready)."""
    b = np.asarray(bona, dtype=np.float64)
    by_type = {k: np.asarray(v, dtype=np.float64) for k, v in attacks_by_type.items()}
    all_attacks = np.concatenate(list(by_type.values())) if by_type else np.zeros(0)
    out: dict[str, object] = {
        "n_bona_fide": int(b.size),
        "n_attack": {k: int(v.size) for k, v in by_type.items()},
        "auc": auc(b, all_attacks),
        "auc_by_type": {k: auc(b, v) for k, v in by_type.items()},
        "bpcer_at_apcer_1pct": bpcer_at_apcer(b, by_type, 0.01),
        "bpcer_at_apcer_5pct": bpcer_at_apcer(b, by_type, 0.05),
    }
    if thresholds:
        out["levels"] = {
            name: {
                "threshold": t,
                "apcer": {k: apcer(v, t) for k, v in by_type.items()},
                "apcer_max": max((apcer(v, t) for v in by_type.values() if v.size), default=0.0),
                "bpcer": bpcer(b, t),
            }
            for name, t in thresholds.items()
        }
    return out
