"""Calibration and evaluation of open-set identification on labelled identity folders.

Identities are split once, by name, into a calibration half and an evaluation half
(``sha256(name)[0]`` even → calibration), so the accuracy reported by
``faceproof eval identification`` is measured on people the levels never saw.

* Calibration: every cross-identity pair of the calibration half gives the per-comparison
  impostor curve (``levels.fit_curve``). The independence model is then checked with real
  non-mated searches: half of the calibration identities enrolled (one image each), every
  image of the other half searched, and the halves swapped.
* Evaluation (NIST-style, two folds): the evaluation identities with two or more images are
  split in halves; in each fold one half is enrolled (first image) and searched with its
  other images (mated searches), the other half's images and the single-image identities
  not enrolled as fillers are the non-mated searches. Reported: rank-1 and rank-5, FNIR at
  FPIR 1 % and 0.1 % (threshold set on the non-mated searches themselves), and FPIR/FNIR at
  the shipped levels; then again with distractors added to the gallery (the calibration
  half's images, then synthetic vectors from ``synthetic_vectors``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.error_rates import supported, threshold_at_accept_rate
from faceproof.identification.levels import IdentificationCalibration
from faceproof.matching.calibration import pair_scores, top_impostor_pairs
from faceproof.matching.dataset import same_photograph_pairs
from faceproof.matching.levels import LEVELS

F32 = NDArray[np.float32]


def _bit(name: str, byte: int) -> int:
    return hashlib.sha256(name.encode("utf-8")).digest()[byte] & 1


def is_calibration_identity(name: str) -> bool:
    return _bit(name, 0) == 0


SPLIT_RULE = (
    "identity in the calibration half iff sha256(name)[0] is even (names after label fixes)"
)


@dataclass
class Labelled:
    vectors: F32  # (n, d) unit rows, only images with a face
    names: list[str]  # identity per row (after label fixes)
    relpaths: list[str]

    def subset(self, keep: NDArray[np.bool_]) -> Labelled:
        idx = np.flatnonzero(keep)
        return Labelled(
            self.vectors[idx], [self.names[i] for i in idx], [self.relpaths[i] for i in idx]
        )


def split(data: Labelled) -> tuple[Labelled, Labelled]:
    calib = np.array([is_calibration_identity(n) for n in data.names])
    return data.subset(calib), data.subset(~calib)


def drop_same_photographs(
    engine: Any, root: Any, data: Labelled, audit: int = 200
) -> tuple[Labelled, list[tuple[str, str]]]:
    """``data`` without one copy of each photograph filed under two names (LFW has a few:
    a cross-identity pair at cosine 0.97–0.997). Among the ``audit`` most similar
    cross-identity pairs, those whose aligned crops correlate at NCC >= 0.9
    (``matching.dataset.same_photograph_pairs``, as the 1:1 calibration) are one photograph:
    they say nothing about impostors and, left in, decide every strict threshold."""
    ids = {n: i for i, n in enumerate(dict.fromkeys(data.names))}
    labels = np.array([ids[n] for n in data.names], dtype=np.int64)
    top = top_impostor_pairs(data.vectors, labels, audit)
    same = same_photograph_pairs(engine, root, data.relpaths, [(i, j) for _, i, j in top])
    drop = {max(i, j) for i, j in same}
    keep = np.array([i not in drop for i in range(len(data.names))])
    pairs = sorted((data.relpaths[i], data.relpaths[j]) for i, j in same)
    return data.subset(keep), pairs


def impostor_scores(data: Labelled) -> F32:
    ids = {n: i for i, n in enumerate(dict.fromkeys(data.names))}
    labels = np.array([ids[n] for n in data.names], dtype=np.int64)
    _, impostor = pair_scores(data.vectors, data.vectors, labels, symmetric=True)
    return impostor


def _top(scores: F32, k: int) -> tuple[NDArray[np.int64], F32]:
    """Per row, the k best columns (best first) and their scores."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def top1(probes: F32, gallery: F32, block: int = 2048) -> F32:
    out = np.empty(len(probes), dtype=np.float32)
    for s in range(0, len(probes), block):
        out[s : s + block] = (probes[s : s + block] @ gallery.T).max(axis=1)
    return out


def validate_calibration(calib: Labelled, cal: IdentificationCalibration) -> dict[str, Any]:
    """Measured FPIR of real non-mated searches vs each level's target, halves swapped."""
    half = np.array([_bit(n, 1) == 0 for n in calib.names])
    top_scores: list[F32] = []
    sizes: list[int] = []
    per_level = {lv: 0 for lv in LEVELS}
    for enrolled in (half, ~half):
        first: dict[str, int] = {}
        for i in np.flatnonzero(enrolled):
            first.setdefault(calib.names[i], int(i))
        gallery = calib.vectors[list(first.values())]
        probes = calib.vectors[~enrolled]
        t1 = top1(probes, gallery)
        top_scores.append(t1)
        sizes.append(len(gallery))
        for lv in LEVELS:
            per_level[lv] += int(np.count_nonzero(t1 >= cal.threshold(lv, len(gallery))))
    searches = sum(len(t) for t in top_scores)
    return {
        "method": "non-mated searches of calibration identities: half enrolled (one image "
        "each), every image of the other half searched, then the halves swapped",
        "gallery_sizes": sizes,
        "non_mated_searches": searches,
        "levels": {
            lv: {
                "fpir_target": cal.fpir[lv],
                "false_positives": per_level[lv],
                "fpir_measured": round(per_level[lv] / searches, 6),
                "supported": searches >= 3 / cal.fpir[lv],
            }
            for lv in LEVELS
        },
    }


def synthetic_vectors(reference: F32, n: int, seed: int = 0) -> F32:
    """Distractors for gallery-size curves: a Gaussian with the mean and covariance of real
    embeddings (``reference``), L2-normalised. They score against real probes like an
    average stranger; they have no look-alike tail of real people, so real distractors
    (other people's images) are used first."""
    rng = np.random.default_rng(seed)
    mean = reference.mean(axis=0)
    cov = np.cov(reference, rowvar=False)
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0]))
    out = np.empty((n, reference.shape[1]), dtype=np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        x = mean + rng.standard_normal((m, reference.shape[1])) @ chol.T
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


@dataclass
class Fold:
    gallery: F32
    gallery_names: list[str]
    mated: F32
    mated_names: list[str]
    non_mated: F32


def eval_folds(evals: Labelled) -> list[Fold]:
    count: dict[str, int] = {}
    for n in evals.names:
        count[n] = count.get(n, 0) + 1
    folds = []
    for side in (0, 1):
        first: dict[str, int] = {}
        mated, non_mated = [], []
        for i, n in enumerate(evals.names):
            # Half the single-image identities fill the galleries as non-searched subjects.
            enrolled = _bit(n, 1) == side if count[n] >= 2 else _bit(n, 2) == 0
            if not enrolled:
                non_mated.append(i)
            elif n not in first:
                first[n] = i
            else:
                mated.append(i)
        folds.append(
            Fold(
                gallery=evals.vectors[list(first.values())],
                gallery_names=list(first),
                mated=evals.vectors[mated],
                mated_names=[evals.names[i] for i in mated],
                non_mated=evals.vectors[non_mated],
            )
        )
    return folds


def _threshold_at_fpir(non_mated_top1: F32, fpir: float) -> tuple[float, bool]:
    """Lowest threshold with at most floor(fpir·n) non-mated searches at or above it (-1
    with none), and whether n supports the rate."""
    t = threshold_at_accept_rate(non_mated_top1, fpir, float32=True)
    return max(t, -1.0), supported(len(non_mated_top1), fpir)


def evaluate(
    folds: Sequence[Fold],
    cal: IdentificationCalibration,
    distractors: F32 | None = None,
) -> dict[str, Any]:
    """Pooled metrics of the folds, with ``distractors`` added to every gallery."""
    dim = folds[0].gallery.shape[1]
    extra = distractors if distractors is not None else np.zeros((0, dim), np.float32)
    mated_ok1 = mated_ok5 = 0
    mated_total = 0
    mate_scores: list[F32] = []
    mate_rank1: list[NDArray[np.bool_]] = []
    nm_top: list[F32] = []
    sizes = []
    level_fp = {lv: 0 for lv in LEVELS}
    level_fn = {lv: 0 for lv in LEVELS}
    for f in folds:
        gallery = np.concatenate([f.gallery, extra]) if len(extra) else f.gallery
        n_gallery = len(gallery)
        sizes.append(n_gallery)
        index = {n: i for i, n in enumerate(f.gallery_names)}
        mate_col = np.array([index[n] for n in f.mated_names], dtype=np.int64)
        fold_ms: list[F32] = []
        fold_r1: list[NDArray[np.bool_]] = []
        for s in range(0, len(f.mated), 1024):
            scores = f.mated[s : s + 1024] @ gallery.T
            cols, _ = _top(scores, 5)
            mates = mate_col[s : s + 1024]
            mated_ok1 += int(np.count_nonzero(cols[:, 0] == mates))
            mated_ok5 += int(np.count_nonzero((cols == mates[:, None]).any(axis=1)))
            fold_ms.append(scores[np.arange(len(mates)), mates])
            fold_r1.append(cols[:, 0] == mates)
        mated_total += len(f.mated)
        ms, r1 = np.concatenate(fold_ms), np.concatenate(fold_r1)
        mate_scores.append(ms)
        mate_rank1.append(r1)
        t1 = top1(f.non_mated, gallery)
        nm_top.append(t1)
        for lv in LEVELS:
            t = cal.threshold(lv, n_gallery)
            level_fp[lv] += int(np.count_nonzero(t1 >= t))
            level_fn[lv] += int(np.count_nonzero(~(r1 & (ms >= t))))
    all_nm = np.concatenate(nm_top)
    all_ms = np.concatenate(mate_scores)
    all_r1 = np.concatenate(mate_rank1)
    fnir = {}
    for fpir in (1e-2, 1e-3):
        t, supported = _threshold_at_fpir(all_nm, fpir)
        fnir[f"{fpir:g}"] = {
            "threshold": round(t, 6),
            "fnir": round(float(np.mean(~(all_r1 & (all_ms >= t)))), 6),
            "supported": supported,
        }
    nm = len(all_nm)
    return {
        "gallery_sizes": sizes,
        "distractors": len(extra),
        "mated_searches": mated_total,
        "non_mated_searches": nm,
        "rank1": round(mated_ok1 / mated_total, 6),
        "rank5": round(mated_ok5 / mated_total, 6),
        "fnir_at_fpir": fnir,
        "levels": {
            lv: {
                "fpir_target": cal.fpir[lv],
                "fpir_measured": round(level_fp[lv] / nm, 6),
                "fnir": round(level_fn[lv] / mated_total, 6),
            }
            for lv in LEVELS
        },
    }
