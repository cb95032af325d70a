"""OpenCV's resize weights as per-axis operators, so that two resizes can be composed.

``cv2.resize`` is separable: each axis is a small linear map (two taps for ``INTER_LINEAR``,
the covered source cells for ``INTER_AREA``). Composing the maps of "upsample the segmenter's
256×256 output to the photo (linear), then area-downsample that to a working size" gives a
banded map straight from the model resolution to the working size, with a few taps per output
pixel, so the photo-sized intermediate is never built. The weights follow OpenCV's own rules
(``resize.cpp``: the linear coefficients and ``computeResizeAreaTab``), hence the result equals
the two-step one up to float rounding (≈ 1e-6 on a [0, 1] map).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]

KEEP = 0.9  # share of the target resolution a 2× pre-shrink must keep (see shrink)


def linear_taps(ssize: int, dsize: int) -> tuple[I64, F32, F32]:
    """``INTER_LINEAR`` along one axis: output i = (1 − f)·src[s] + f·src[s + 1].

    Returns (s, 1 − f, f) per output, OpenCV's coefficients (float32, clamped at the ends,
    where f is 0 and the second tap is unused).
    """
    scale = 1.0 / (dsize / ssize)
    fx = ((np.arange(dsize, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    sx = np.floor(fx).astype(np.int64)
    fx = (fx - sx.astype(np.float32)).astype(np.float32)
    low, high = sx < 0, sx >= ssize - 1
    fx[low | high] = 0.0
    sx[low] = 0
    sx[high] = ssize - 1
    return sx, (np.float32(1.0) - fx).astype(np.float32), fx


def area_taps(ssize: int, dsize: int) -> tuple[I64, I64, F32]:
    """``INTER_AREA`` shrinking one axis (``computeResizeAreaTab``): (output, source, weight)."""
    if dsize > ssize:
        raise ValueError("INTER_AREA weights are for shrinking only")
    scale = 1.0 / (dsize / ssize)
    dx = np.arange(dsize, dtype=np.int64)
    fsx1 = dx * scale
    fsx2 = fsx1 + scale
    cell = np.minimum(scale, ssize - fsx1)
    sx2 = np.minimum(np.floor(fsx2).astype(np.int64), ssize - 1)
    sx1 = np.minimum(np.ceil(fsx1).astype(np.int64), sx2)
    left = sx1 - fsx1 > 1e-3
    right = fsx2 - sx2 > 1e-3
    counts = sx2 - sx1
    mid_dst = np.repeat(dx, counts)  # the whole cells sx1 … sx2 − 1 of each output
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    mid_src = np.repeat(sx1, counts) + offset
    dst = np.concatenate([dx[left], mid_dst, dx[right]])
    src = np.concatenate([sx1[left] - 1, mid_src, sx2[right]])
    weight = np.concatenate(
        [
            ((sx1 - fsx1) / cell)[left],
            np.repeat(1.0 / cell, counts),
            (np.minimum(np.minimum(fsx2 - sx2, 1.0), cell) / cell)[right],
        ]
    ).astype(np.float32)
    return dst, src, weight


@lru_cache(maxsize=32)
def _band(model: int, photo: int, work: int) -> tuple[I64, F32]:
    """Banded (start, weights) form of area(photo → work) ∘ linear(model → photo)."""
    s, w0, w1 = linear_taps(model, photo)
    dst, src, a = area_taps(photo, work)
    c = np.zeros((work, model), dtype=np.float64)
    np.add.at(c, (dst, s[src]), a.astype(np.float64) * w0[src])
    second = w1[src] != 0
    np.add.at(c, (dst[second], s[src][second] + 1), a[second].astype(np.float64) * w1[src][second])
    nz = c != 0
    start = np.argmax(nz, axis=1)
    stop = model - np.argmax(nz[:, ::-1], axis=1)
    k = int((stop - start).max())
    start = np.minimum(start, model - k)
    cols = start[:, None] + np.arange(k)[None, :]
    return start.astype(np.int64), np.take_along_axis(c, cols, axis=1).astype(np.float32)


def upsample_then_area(prob: F32, photo: tuple[int, int], work: tuple[int, int]) -> F32:
    """``cv2.resize(cv2.resize(prob, photo, INTER_LINEAR), work, INTER_AREA)``, without the
    photo-sized intermediate. Sizes are (width, height); ``work`` must not exceed ``photo``.
    """
    (pw, ph), (ww, wh) = photo, work
    mh, mw = prob.shape
    sx, wx = _band(mw, pw, ww)
    sy, wy = _band(mh, ph, wh)
    p = np.asarray(prob, dtype=np.float32)
    # Whole-row gathers only (contiguous): rows first, then the transposed columns.
    y = _taps(p, sy, wy)  # (wh, mw)
    return np.ascontiguousarray(_taps(np.ascontiguousarray(y.T), sx, wx).T)


def _taps(a: F32, start: I64, weights: F32) -> F32:
    """out[i] = Σ_t a[start[i] + t] · weights[i, t], over the rows of ``a``."""
    rows = a[start[:, None] + np.arange(weights.shape[1])[None, :]]  # (n, k, width)
    return np.asarray(np.matmul(weights[:, None, :], rows)[:, 0], dtype=np.float32)


def shrink(img: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Area-average ``img`` down to ``size`` (w, h) for a model input or a working copy.

    OpenCV's ``INTER_AREA`` is fast only for integer factors; a 640×480 → 192×144 shrink takes
    its general path (≈ 0.6 ms per call, three calls per image). Exact 2×2 box means first
    (the integer fast path) while the halved image keeps at least ``KEEP`` of the target's
    resolution on both axes, then one ``INTER_AREA`` to the target: a box filter of nearly the
    same support, differing from the one-step result by under half a grey level on average,
    and at under half the cost. Sizes that grow use ``INTER_LINEAR``.
    """
    w, h = size
    src = img
    while True:
        sh, sw = src.shape[:2]
        if sw % 2 or sh % 2 or sw // 2 < KEEP * w or sh // 2 < KEEP * h:
            break
        src = np.asarray(cv2.resize(src, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA))
    sh, sw = src.shape[:2]
    if (sw, sh) == (w, h):
        return np.asarray(src, dtype=np.uint8)
    interp = cv2.INTER_AREA if w <= sw and h <= sh else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(src, (w, h), interpolation=interp), dtype=np.uint8)
