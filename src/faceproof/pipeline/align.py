"""Geometric normalisation: the 112×112 crop the embedder expects, and ISO token images.

Both are similarity transforms (rotation, uniform scale, translation), so the face's shape is
never distorted; only where it lands and how big it is change.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from faceproof.face.record import U8

F64 = NDArray[np.float64]

# The ArcFace 112×112 five-point template (image-left eye, image-right eye, nose tip,
# image-left mouth corner, image-right mouth corner), as published with insightface
# (`arcface_dst` in python-package/insightface/utils/face_align.py). Embedders trained on
# insightface-aligned crops expect the points exactly here.
ARCFACE_112: F64 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

# ISO/IEC 19794-5:2005 Token Frontal geometry (the token image type's geometric requirements;
# our reading in docs/templates.md): width W, height W/0.75, eyes on the row 0.6·W from the
# top, the first (subject's right = image-left) eye at x = 0.375·W − 1 and the second at
# x = 0.625·W − 1, so eye-to-eye is 0.25·W. Minimum width 240 (eye-to-eye ≥ 60 px).
# Origin top-left, 0-based.
TOKEN_MIN_WIDTH = 240
TOKEN_ASPECT = 4.0 / 3.0  # height / width


@dataclass(frozen=True)
class TokenImage:
    """A token frontal image and where the eyes landed (output pixels, x right, y down)."""

    image: U8
    width: int
    height: int
    left_eye: tuple[float, float]  # image-left eye (the subject's right eye)
    right_eye: tuple[float, float]  # image-right eye (the subject's left eye)
    matrix: F64  # (2, 3) source → output


def similarity_matrix(src: ArrayLike, dst: ArrayLike) -> F64:
    """Least-squares similarity (Umeyama 1991) mapping ``src`` points onto ``dst``, (2, 3).

    Closed form: no iterations, no random sampling, and exact for two points.
    """
    s = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if s.shape != d.shape or len(s) < 2:
        raise ValueError("need at least two matching point pairs")
    mu_s, mu_d = s.mean(axis=0), d.mean(axis=0)
    xs, xd = s - mu_s, d - mu_d
    var_s = float((xs**2).sum() / len(s))
    if var_s <= 1e-12:
        raise ValueError("source points coincide")
    cov = xd.T @ xs / len(s)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0  # a reflection is not a similarity: flip the weakest axis
    rot = u @ sign @ vt
    scale = float(np.trace(np.diag(sig) @ sign)) / var_s
    m = np.empty((2, 3), dtype=np.float64)
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def transform_points(matrix: ArrayLike, points: ArrayLike) -> F64:
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    m = np.asarray(matrix, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return p @ m[:, :2].T + m[:, 2]


def warp(
    rgb: U8,
    matrix: F64,
    size: tuple[int, int],
    fill: tuple[int, int, int] | None = None,
) -> U8:
    """``cv2.warpAffine`` that stays sharp-but-not-aliased when shrinking a lot.

    Bilinear sampling skips pixels below half scale, so strong reductions first go through an
    area resize and the matrix is rewritten for the smaller source.
    """
    m = np.asarray(matrix, dtype=np.float64).copy()
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    src: np.ndarray = rgb
    if scale < 0.5:
        # Only the source region the output sees is worth resizing (the face, not the frame).
        src, m = _crop_to_footprint(rgb, m, size)
        rgb = src
        f = 2.0 * scale
        src = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        fx, fy = src.shape[1] / rgb.shape[1], src.shape[0] / rgb.shape[0]
        # cv2.resize maps pixel centres: x_small = (x + 0.5)·f − 0.5.
        a = m[:, :2]
        offset = a @ np.array([0.5 / fx - 0.5, 0.5 / fy - 0.5])
        m = np.hstack([a / np.array([fx, fy]), (m[:, 2] + offset)[:, None]])
    border = cv2.BORDER_REPLICATE if fill is None else cv2.BORDER_CONSTANT
    value = (0, 0, 0) if fill is None else tuple(int(c) for c in fill)
    out = cv2.warpAffine(src, m, size, flags=cv2.INTER_LINEAR, borderMode=border, borderValue=value)
    return np.ascontiguousarray(out, dtype=np.uint8)


def _crop_to_footprint(rgb: U8, m: F64, size: tuple[int, int]) -> tuple[U8, F64]:
    """The part of ``rgb`` that output pixels map to (plus a margin), and the matrix for it.

    Pixels outside the image are still produced by the border mode: the crop is clipped to
    the image, so the same edge pixels are replicated as without it.
    """
    w, h = size
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64)
    src_pts = corners @ inv[:, :2].T + inv[:, 2]
    margin = 2.0 / max(float(np.sqrt(abs(np.linalg.det(m[:, :2])))), 1e-6)
    x0 = max(int(np.floor(src_pts[:, 0].min() - margin)), 0)
    y0 = max(int(np.floor(src_pts[:, 1].min() - margin)), 0)
    x1 = min(int(np.ceil(src_pts[:, 0].max() + margin)) + 1, rgb.shape[1])
    y1 = min(int(np.ceil(src_pts[:, 1].max() + margin)) + 1, rgb.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2 or (x0 == 0 and y0 == 0 and (x1, y1) == rgb.shape[1::-1]):
        return rgb, m
    shifted = m.copy()
    shifted[:, 2] += m[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return rgb[y0:y1, x0:x1], shifted


def similarity_align(rgb: U8, five_points: ArrayLike, size: int = 112) -> U8:
    """The embedder's input: the face warped so its five points sit on the ArcFace template."""
    dst = ARCFACE_112 * (size / 112.0)
    m = similarity_matrix(five_points, dst)
    return warp(rgb, m, (size, size))


def token_eye_positions(width: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where 19794-5 puts the image-left and image-right eye centres in a W-wide token."""
    y = 0.6 * width
    return (0.375 * width - 1.0, y), (0.625 * width - 1.0, y)


def default_token_width(left_eye: ArrayLike, right_eye: ArrayLike) -> int:
    """Widest token that does not upsample the face (W = 4 × eye distance), at least 240.

    Rounded down to a multiple of 24 so W·3/8, W·5/8 and the 4:3 height are whole pixels.
    """
    d = float(np.linalg.norm(np.asarray(right_eye, float) - np.asarray(left_eye, float)))
    return max(TOKEN_MIN_WIDTH, int(4.0 * d) // 24 * 24)


def token_frontal(
    rgb: U8,
    left_eye: ArrayLike,
    right_eye: ArrayLike,
    width: int | None = None,
    fill: tuple[int, int, int] | None = None,
) -> TokenImage:
    """An ISO/IEC 19794-5 Token Frontal image from the two eye centres (source pixels).

    ``left_eye`` is the image-left eye. Areas outside the source are edge-replicated, or
    painted ``fill`` when given (e.g. after background replacement).
    """
    w = default_token_width(left_eye, right_eye) if width is None else int(width)
    if w < TOKEN_MIN_WIDTH:
        raise ValueError(f"token images are at least {TOKEN_MIN_WIDTH} px wide")
    h = round(w * TOKEN_ASPECT)
    dst_l, dst_r = token_eye_positions(w)
    src = np.vstack(
        [np.asarray(left_eye, float).reshape(2), np.asarray(right_eye, float).reshape(2)]
    )
    m = similarity_matrix(src, [dst_l, dst_r])
    image = warp(rgb, m, (w, h), fill)
    eyes = transform_points(m, src)
    return TokenImage(
        image=image,
        width=w,
        height=h,
        left_eye=(float(eyes[0, 0]), float(eyes[0, 1])),
        right_eye=(float(eyes[1, 0]), float(eyes[1, 1])),
        matrix=m,
    )


def aligned_crop(
    rgb: U8,
    left_eye: ArrayLike,
    right_eye: ArrayLike,
    fill: tuple[int, int, int] | None = None,
) -> U8:
    """The image for the documented ``data.aligned`` field.

    The reference only says "cropped following IDENTY Standards"; we return the ISO token
    frontal portrait at its default width, a crop that any 19794-5 reader also understands.
    """
    return token_frontal(rgb, left_eye, right_eye, None, fill).image
