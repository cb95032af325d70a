"""The face-normalised crop: the face upright, at one scale, and which crop pixels are real.

The face is rotated so the eye line is horizontal and scaled so the mesh's extent fills
``FILL`` of a ``crop_size``² square, so every measure sees every face at the same scale (a
big face is downsampled with area averaging first, a small one upsampled). Pixels that came
from outside the photo are marked by :func:`inside_photo`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import U8

F64 = NDArray[np.float64]
BoolMap = NDArray[np.bool_]

CROP_SIZE = 224
FILL = 0.8  # share of the crop side covered by the mesh's larger extent


def crop_transform(eye_centres: F64, mesh: F64, crop_size: int) -> tuple[F64, float]:
    """2×3 affine map image → crop, and its scale (crop pixels per image pixel)."""
    e = eye_centres
    angle = math.atan2(e[1, 1] - e[0, 1], e[1, 0] - e[0, 0])
    c, s = math.cos(-angle), math.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    r = mesh @ rot.T
    lo, hi = r.min(axis=0), r.max(axis=0)
    extent = max(float(np.max(hi - lo)), 1.0)
    scale = FILL * crop_size / extent
    a = scale * rot
    centre = (lo + hi) / 2  # rotated frame
    t = np.full(2, crop_size / 2) - scale * centre
    return np.hstack([a, t[:, None]]), scale


def warp_crop(rgb: U8, transform: F64, scale: float, crop_size: int) -> U8:
    """The face, upright and scale-normalised, (S, S, 3) RGB; outside the photo is 0."""
    m = transform
    n = crop_size
    src: NDArray[np.uint8] = rgb
    if scale < 0.5:
        # Area-average first so downsampling a big face does not alias (warpAffine is
        # bilinear); only the part of the photo under the crop is resized.
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0, 1], [n, 0, 1], [0, n, 1], [n, n, 1]], dtype=np.float64)
        pts = corners @ inv.T
        h, w = rgb.shape[:2]
        lo, hi = np.floor(pts.min(axis=0)) - 2, np.ceil(pts.max(axis=0)) + 2
        x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
        x1, y1 = min(w, int(hi[0])), min(h, int(hi[1]))
        if x1 > x0 and y1 > y0:
            f = min(1.0, 2.0 * scale)
            sub = src[y0:y1, x0:x1]
            sw, sh = max(1, round(sub.shape[1] * f)), max(1, round(sub.shape[0] * f))
            src = np.asarray(cv2.resize(sub, (sw, sh), interpolation=cv2.INTER_AREA))
            fx, fy = sub.shape[1] / sw, sub.shape[0] / sh
            a = m[:, :2] @ np.diag([fx, fy])
            m = np.hstack([a, (m[:, :2] @ np.array([x0, y0]) + m[:, 2])[:, None]])
    out = cv2.warpAffine(
        src, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return np.asarray(out, dtype=np.uint8)


def inside_photo(transform: F64, image_size: tuple[int, int], crop_size: int) -> BoolMap:
    """Crop pixels that come from inside the photo of ``image_size`` (width, height)."""
    n = crop_size
    inv = cv2.invertAffineTransform(transform)
    w, h = image_size
    # The map is affine, so its extremes over the pixel-centre grid are at the corner
    # pixels: when those are inside the photo by a margin far above the rounding error,
    # every pixel is (the usual case, a face with room around it).
    c = np.array([0.5, n - 0.5])
    cx = inv[0, 0] * c[None, :] + inv[0, 1] * c[:, None] + inv[0, 2]
    cy = inv[1, 0] * c[None, :] + inv[1, 1] * c[:, None] + inv[1, 2]
    eps = 1e-6 * (1.0 + w + h)
    if cx.min() >= eps and cx.max() < w - eps and cy.min() >= eps and cy.max() < h - eps:
        return np.ones((n, n), dtype=bool)
    xs = np.arange(n, dtype=np.float64)[None, :] + 0.5  # pixel centres, broadcast
    ys = np.arange(n, dtype=np.float64)[:, None] + 0.5
    x = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    y = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    return np.asarray((x >= 0) & (x < w) & (y >= 0) & (y < h))
