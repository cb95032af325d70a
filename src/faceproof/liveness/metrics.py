"""PAD error rates in ISO/IEC 30107-3 terms.

* **APCER** (attack presentation classification error rate): share of attack presentations
  of one attack type (presentation attack instrument species) classified as bona fide.
  The standard reports it per type; the overall figure is the worst type's.
* **BPCER** (bona fide presentation classification error rate): share of bona fide
  presentations classified as attacks.
* **BPCER@APCER=x**: BPCER at the threshold where the worst type's APCER is at most x.

Scores here are liveness scores (high = bona fide); a presentation is classified bona fide at
``score >= threshold``. The rates, thresholds, AUC and DET curves are
:mod:`faceproof.error_rates`' (attacks are the negatives, bona fide the positives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from faceproof.error_rates import accept_rate, auc, reject_rate, threshold_at_accept_rate

Arr = NDArray[np.float64]


def apcer(attack_scores: Arr, threshold: float) -> float:
    """Share of the attack presentations accepted as bona fide (NaN with none)."""
    return accept_rate(attack_scores, threshold)


def bpcer(bona_scores: Arr, threshold: float) -> float:
    """Share of the bona fide presentations refused (NaN with none)."""
    return reject_rate(bona_scores, threshold)


def threshold_at_apcer(attacks_by_type: Mapping[str, Arr], target: float) -> float:
    """The lowest threshold at which every attack type's APCER is at most ``target``."""
    return max(
        (threshold_at_accept_rate(s, target) for s in attacks_by_type.values() if s.size),
        default=-np.inf,
    )


def bpcer_at_apcer(bona: Arr, attacks_by_type: Mapping[str, Arr], target: float) -> float:
    return bpcer(bona, threshold_at_apcer(attacks_by_type, target))


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
