"""Verification metrics over labelled pairs: k-fold accuracy, TAR at FAR, DET, confusion.

Convention everywhere: a pair is accepted iff ``similarity >= threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]


def threshold_at_far(impostor: F64, far: float) -> float:
    """Lowest threshold with at most ``floor(far · N)`` impostors at or above it."""
    desc = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    k = math.floor(far * len(desc))
    if k >= len(desc):
        return float(desc[-1])
    return float(np.nextafter(desc[k], np.inf))


def best_threshold(sims: F64, same: Bools) -> float:
    """The accuracy-maximising threshold (midpoint between neighbouring scores)."""
    order = np.argsort(sims, kind="stable")
    s, y = sims[order], same[order]
    # Threshold just above s[i] rejects 0..i: correct = negatives among them + positives above.
    neg_below = np.cumsum(~y)
    pos_above = y.sum() - np.cumsum(y)
    correct = np.concatenate([[y.sum()], neg_below + pos_above])
    cuts = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    return float(cuts[int(np.argmax(correct))])


def accuracy(sims: F64, same: Bools, threshold: float) -> float:
    return float(np.mean((sims >= threshold) == same))


@dataclass(frozen=True)
class KFold:
    mean: float
    std: float
    per_fold: list[float]
    thresholds: list[float]


def kfold_accuracy(sims: F64, same: Bools, folds: NDArray[np.int64]) -> KFold:
    """Threshold chosen on the other folds, accuracy measured on the held-out fold."""
    accs, ths = [], []
    for f in np.unique(folds):
        test = folds == f
        t = best_threshold(sims[~test], same[~test])
        ths.append(t)
        accs.append(accuracy(sims[test], same[test], t))
    return KFold(float(np.mean(accs)), float(np.std(accs)), accs, ths)


def tar_at_far(genuine: F64, impostor: F64, far: float) -> dict[str, Any]:
    """TAR at the empirical FAR threshold, with what the impostor count can support."""
    t = threshold_at_far(impostor, far)
    accepted = int(np.count_nonzero(impostor >= t))
    return {
        "far_target": far,
        "threshold": t,
        "tar": float(np.mean(genuine >= t)),
        "impostor_pairs": len(impostor),
        "impostors_accepted": accepted,
        "far_measured": accepted / len(impostor),
        "supported": len(impostor) >= 3.0 / far,
    }


def confusion(sims: F64, same: Bools, threshold: float) -> dict[str, Any]:
    accept = sims >= threshold
    tp = int(np.sum(accept & same))
    fn = int(np.sum(~accept & same))
    fp = int(np.sum(accept & ~same))
    tn = int(np.sum(~accept & ~same))
    return {
        "threshold": threshold,
        "true_accept": tp,
        "false_reject": fn,
        "false_accept": fp,
        "true_reject": tn,
        "tar": tp / max(tp + fn, 1),
        "far": fp / max(fp + tn, 1),
    }


def det_curve(genuine: F64, impostor: F64) -> tuple[F64, F64]:
    """(FAR, FRR) at every distinct score used as threshold, FAR decreasing."""
    ths = np.unique(np.concatenate([genuine, impostor]))
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    far = 1.0 - np.searchsorted(imp, ths, side="left") / len(imp)
    frr = np.searchsorted(gen, ths, side="left") / len(gen)
    return far.astype(np.float64), frr.astype(np.float64)
