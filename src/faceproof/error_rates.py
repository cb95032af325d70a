"""Error rates at a threshold, and the threshold at an error rate: said once, for every score.

Matching (FAR/FRR of similarity scores), identification (FPIR of top-1 non-mated searches)
and liveness (APCER/BPCER of liveness scores) all decide the same way: a score is
**accepted iff ``score >= threshold``**. *Negatives* are the scores that ought to be refused
(impostor pairs, non-mated searches, attack presentations), *positives* those that ought to
be accepted (genuine pairs, bona fide presentations).

A threshold "at a rate" is the **lowest** threshold that accepts at most ``floor(rate · N)``
of the ``N`` negatives; ties go against the negatives (the threshold is the next
representable value above the deciding score, so a negative equal to it is refused). With
``float32=True`` that next value is taken on the float32 grid, so a threshold decides the
same way whether similarities of float32 embeddings are compared in float32 or float64.

NumPy only: the server imports this at run time, the evaluation commands build on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
# Rule of three: with N trials and no error, the one-sided 95 % upper bound of the rate is
# about 3/N; a rate target r is *supported* by N trials only when N >= 3/r.
SUPPORT_FACTOR = 3.0


def supported(n: int, rate: float) -> bool:
    """Whether ``n`` trials can bound an error rate at ``rate`` (rule of three)."""
    return n >= SUPPORT_FACTOR / rate


def accept_rate(scores: ArrayLike, threshold: float) -> float:
    """Share of ``scores`` at or above ``threshold`` (NaN when there are none).

    Compared in float64: NumPy would compare float32 scores with a Python float in float32,
    rounding a threshold just above a score onto it and accepting the tie.
    """
    s = np.asarray(scores, dtype=np.float64)
    return float(np.mean(s >= threshold)) if s.size else float("nan")


def reject_rate(scores: ArrayLike, threshold: float) -> float:
    """Share of ``scores`` below ``threshold`` (NaN when there are none; float64 as above)."""
    s = np.asarray(scores, dtype=np.float64)
    return float(np.mean(s < threshold)) if s.size else float("nan")


def next_above(x: float, *, float32: bool = False) -> float:
    """The next representable value above ``x`` (on the float32 grid with ``float32``)."""
    if float32:
        return float(np.nextafter(np.float32(x), np.float32(np.inf)))
    return float(np.nextafter(np.float64(x), np.inf))


def _allowed(rate: float, n: int) -> int:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"an error rate must lie in [0, 1), got {rate}")
    return math.floor(rate * n)


def thresholds_at_accept_rates(
    negatives: ArrayLike, rates: Sequence[float], *, float32: bool = False
) -> list[float]:
    """For each rate, the lowest threshold accepting at most ``floor(rate · N)`` negatives.

    ``-inf`` where every negative may be accepted (only with no negatives at all: rates are
    below 1). One partial sort for all rates.
    """
    neg = np.asarray(negatives) if float32 else np.asarray(negatives, dtype=np.float64)
    neg = neg.ravel()
    n = neg.size
    ks = [_allowed(r, n) for r in rates]
    # The (k+1)-th highest score decides: it is ascending index n-1-k.
    idx = sorted({n - 1 - k for k in ks if k < n})
    part = np.partition(neg, idx) if idx else neg
    return [next_above(float(part[n - 1 - k]), float32=float32) if k < n else -math.inf for k in ks]


def threshold_at_accept_rate(negatives: ArrayLike, rate: float, *, float32: bool = False) -> float:
    """The lowest threshold accepting at most ``floor(rate · N)`` of the negatives."""
    return thresholds_at_accept_rates(negatives, [rate], float32=float32)[0]


def threshold_at_reject_rate(positives: ArrayLike, rate: float) -> float:
    """The highest threshold rejecting (``score < t``) at most ``floor(rate · N)`` positives.

    Ties are accepted: the threshold is the ``floor(rate · N)``-th lowest score itself;
    ``+inf`` with no positives.
    """
    pos = np.asarray(positives, dtype=np.float64).ravel()
    k = _allowed(rate, pos.size)
    if k >= pos.size:
        return math.inf
    return float(np.partition(pos, k)[k])


def det_curve(positives: ArrayLike, negatives: ArrayLike) -> tuple[F64, F64]:
    """(false-accept rate, false-reject rate) at every distinct score and at ``+inf``.

    Thresholds increase along the curve: the false-accept rate (share of negatives accepted:
    FAR, APCER) falls to 0 and the false-reject rate (share of positives refused: FRR, BPCER)
    rises to 1.
    """
    pos = np.sort(np.asarray(positives, dtype=np.float64).ravel())
    neg = np.sort(np.asarray(negatives, dtype=np.float64).ravel())
    ths = np.unique(np.concatenate([pos, neg, [np.inf]]))
    far = (neg.size - np.searchsorted(neg, ths, side="left")) / max(neg.size, 1)
    frr = np.searchsorted(pos, ths, side="left") / max(pos.size, 1)
    return far.astype(np.float64), frr.astype(np.float64)


def auc(positives: ArrayLike, negatives: ArrayLike) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting half (the Mann-Whitney U statistic over ``Np · Nn``)."""
    pos = np.asarray(positives, dtype=np.float64).ravel()
    neg = np.asarray(negatives, dtype=np.float64).ravel()
    if not pos.size or not neg.size:
        return float("nan")
    both = np.concatenate([pos, neg])
    order = np.argsort(both, kind="mergesort")
    ordered = both[order]
    # Midranks (1-based) over runs of equal scores.
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    ends = np.concatenate([starts[1:], [ordered.size]]) - 1
    run = np.cumsum(np.concatenate([[False], ordered[1:] != ordered[:-1]]))
    ranks = np.empty(both.size, dtype=np.float64)
    ranks[order] = ((starts + ends) / 2 + 1)[run]
    r_pos = ranks[: pos.size].sum()
    return float((r_pos - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))
