"""Verification metrics over labelled pairs: k-fold accuracy, TAR at FAR, confusion.

Convention everywhere: a pair is accepted iff ``similarity >= threshold``; thresholds at an
error rate and DET curves come from :mod:`faceproof.error_rates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.error_rates import accept_rate, det_curve, threshold_at_accept_rate

F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]


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


def equal_error_rate(genuine: F64, impostor: F64) -> float:
    """The error rate where the DET curve crosses FAR = FRR: at the first threshold whose
    FRR reaches its FAR, the mean of the two (the step the crossing falls on)."""
    far, frr = det_curve(genuine, impostor)
    i = int(np.argmax(frr >= far))  # FAR falls and FRR rises along the curve
    return float((far[i] + frr[i]) / 2)


def kfold_eer(sims: F64, same: Bools, folds: NDArray[np.int64]) -> list[float]:
    """The EER of each fold's own pairs (its spread is the uncertainty ``eval verify`` gives)."""
    out = []
    for f in np.unique(folds):
        m = folds == f
        out.append(equal_error_rate(sims[m & same], sims[m & ~same]))
    return out


def tar_at_far(genuine: F64, impostor: F64, far: float) -> dict[str, Any]:
    """TAR at the empirical FAR threshold, with what the impostor count can support."""
    t = threshold_at_accept_rate(impostor, far)
    accepted = int(np.count_nonzero(impostor >= t))
    return {
        "far_target": far,
        "threshold": t,
        "tar": accept_rate(genuine, t),
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
