"""Is the face a 3-D object? A planarity test between two frames of a "move closer" challenge.

A printed photo or a screen is a plane: however it moves in front of the camera, the image
of every point on it moves by one and the same 3×3 homography. A real head is not flat: when
it comes closer, the nose (nearer to the camera) grows faster than the cheeks, ears and jaw
(perspective), and when it turns, near and far points shift by different amounts (parallax).

So two hypotheses are fitted to the face-mesh correspondences between a far and a near frame:

* **plane**: the best homography (8 degrees of freedom), residual ``e_plane``;
* **rigid 3-D face**: the face of the first frame back-projected to 3-D with the mesh's own
  depth estimates (a pinhole camera with focal length = image width, as in
  :mod:`faceproof.face.pose`), then the best rigid motion (6 degrees of freedom) by PnP
  into the second frame, residual ``e_rigid``.

Each direction (far→near and near→far) is fitted and the residuals averaged. For a real
face ``e_plane`` is clearly larger than ``e_rigid`` although the plane has more freedom;
for a flat attack the depth the mesh model hallucinates is wrong, the predicted perspective
does not happen, and ``e_rigid`` exceeds ``e_plane``. The statistic is
``log(e_plane / e_rigid)`` (> 0: 3-D). Residuals are in units of the inter-ocular distance so
the statistic does not depend on image size. Small motions carry no evidence either way:
the caller must require enough change in scale or pose (see :func:`motion_strength`).

The landmark model regularises: shown a flat face under strong keystone it outputs the
landmarks of a plausibly *turned* 3-D face, which the rigid model then explains well. So
the landmark test is paired with a **photometric** one that involves no learned model:
the far frame's face is warped onto the near frame by the best homography (initialised
from the landmarks, refined by ECC image alignment, Evangelidis & Psarakis 2008) and
compared pixel by pixel (zero-mean normalised correlation, so exposure changes do not
matter). A plane aligns almost perfectly; a 3-D face cannot, because its parallax is not
a homography. :func:`photometric_residual` returns ``1 − correlation``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import F32, U8

# Mesh vertices on rigid parts of the face: contour, nose, brows, eye corners, cheeks.
# Lips and eyelids are left out: expressions and blinks move them independently of pose.
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
NOSE = (
    1,
    2,
    4,
    5,
    6,
    19,
    45,
    48,
    64,
    94,
    97,
    98,
    115,
    168,
    195,
    197,
    220,
    275,
    278,
    294,
    326,
    327,
    344,
    440,
)
BROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
EYE_CORNERS = (33, 133, 263, 362)
CHEEKS = (36, 50, 116, 123, 187, 205, 266, 280, 345, 352, 411, 425)
RIGID_INDICES: tuple[int, ...] = FACE_OVAL + NOSE + BROWS + EYE_CORNERS + CHEEKS


@dataclass(frozen=True)
class PlanarityResult:
    """Residuals (inter-ocular units) of the two hypotheses and the decision statistic."""

    e_plane: float
    e_rigid: float
    statistic: float  # log(e_plane / e_rigid); > 0 favours a 3-D face
    scale_ratio: float  # inter-ocular distance of the second frame over the first


def _camera(image_size: tuple[int, int]) -> NDArray[np.float64]:
    w, h = image_size
    f = float(w)
    return np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=np.float64)


def _iod(mesh: F32) -> float:
    return float(np.linalg.norm(mesh[33, :2] - mesh[263, :2]))


def _backproject(mesh: F32, k: NDArray[np.float64]) -> NDArray[np.float64]:
    """3-D points of a mesh in camera units where the face plane lies at depth f.

    The mesh's z is in pixel units at the face's own scale (negative towards the camera); at
    depth f one unit projects to one pixel, so a vertex lies at depth ``f + z``.
    """
    f, cx, cy = k[0, 0], k[0, 2], k[1, 2]
    pts = mesh.astype(np.float64)
    depth = f + pts[:, 2] - float(np.median(pts[:, 2]))
    depth = np.maximum(depth, 0.2 * f)
    return np.stack([(pts[:, 0] - cx) * depth / f, (pts[:, 1] - cy) * depth / f, depth], axis=1)


def _rms(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


def _one_way(src: F32, dst: F32, k: NDArray[np.float64]) -> tuple[float, float]:
    idx = list(RIGID_INDICES)
    a = src[idx, :2].astype(np.float64)
    b = dst[idx, :2].astype(np.float64)
    h, _ = cv2.findHomography(a, b, 0)
    if h is None:
        return math.inf, math.inf
    proj = cv2.perspectiveTransform(a[None], h)[0]
    e_plane = _rms(proj, b)
    obj = _backproject(src, k)[idx]
    ok, rvec, tvec = cv2.solvePnP(obj, b, k, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        return e_plane, math.inf
    ok, rvec, tvec = cv2.solvePnP(
        obj, b, k, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return e_plane, math.inf
    reproj, _ = cv2.projectPoints(obj, rvec, tvec, k, None)
    return e_plane, _rms(np.asarray(reproj[:, 0], dtype=np.float64), b)


def planarity(mesh_a: F32, mesh_b: F32, image_size: tuple[int, int]) -> PlanarityResult:
    """Compare the plane and rigid-3-D explanations of the face's motion from a to b.

    ``mesh_a``/``mesh_b``: (468, 3) face meshes of two frames of the same size
    ``image_size`` = (width, height).
    """
    k = _camera(image_size)
    p1, r1 = _one_way(mesh_a, mesh_b, k)
    p2, r2 = _one_way(mesh_b, mesh_a, k)
    iod_a, iod_b = _iod(mesh_a), _iod(mesh_b)
    # Each direction's residual is in the target frame's pixels.
    e_plane = (p1 / iod_b + p2 / iod_a) / 2
    e_rigid = (r1 / iod_b + r2 / iod_a) / 2
    stat = math.log((e_plane + 1e-4) / (e_rigid + 1e-4)) if math.isfinite(e_rigid) else -math.inf
    return PlanarityResult(e_plane, e_rigid, stat, iod_b / max(iod_a, 1e-6))


def motion_strength(mesh_a: F32, mesh_b: F32) -> float:
    """How much perspective evidence the pair can carry: |log scale change| (0 = none)."""
    return abs(math.log(max(_iod(mesh_b), 1e-6) / max(_iod(mesh_a), 1e-6)))


def _ncc(a: NDArray[np.float32], b: NDArray[np.float32], mask: NDArray[np.bool_]) -> float:
    x, y = a[mask].astype(np.float64), b[mask].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    return float(np.dot(x, y) / (np.sqrt(np.dot(x, x) * np.dot(y, y)) + 1e-9))


def _warp(
    img: NDArray[np.float32], warp: NDArray[Any], size: tuple[int, int]
) -> NDArray[np.float32]:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return np.asarray(cv2.warpPerspective(img, warp, size, flags=flags), dtype=np.float32)


# The photometric test's alignment (see photometric_residual): ECC on crops around the face,
# coarse to fine. Each level runs at the scale where the near face's inter-ocular distance is
# its number of pixels (full scale if that is ≥ 3/4 of it), so the cost hardly grows with the
# face: the coarse level finds the alignment, the last one polishes it at full scale (faces
# up to 160 px between the eyes; larger ones at 120 px). Numbers: bench/bench_geometry3d.py.
_EPS_COUNT = cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT
ECC_LEVELS: tuple[tuple[float, tuple[int, int, float]], ...] = (
    (40.0, (_EPS_COUNT, 30, 1e-5)),
    (120.0, (_EPS_COUNT, 3, 1e-6)),
)
_CROP_PAD = 8  # pixels around the near face hull: > the 5×5 blurs' and the gradient's reach
_MIN_MASK = 400  # face pixels below which the pair carries no photometric evidence


def _translate(x: float, y: float) -> NDArray[np.float64]:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _box(pts: NDArray[Any], pad: float, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Integer box around ``pts`` grown by ``pad``, clipped to an image of ``size`` = (w, h)."""
    x0 = max(math.floor(float(pts[:, 0].min()) - pad), 0)
    y0 = max(math.floor(float(pts[:, 1].min()) - pad), 0)
    x1 = min(math.ceil(float(pts[:, 0].max()) + pad) + 1, size[0])
    y1 = min(math.ceil(float(pts[:, 1].max()) + pad) + 1, size[1])
    return (x0, y0, x1, y1) if x1 - x0 >= 16 and y1 - y0 >= 16 else None


def _grey(rgb: U8, box: tuple[int, int, int, int]) -> NDArray[np.float32]:
    x0, y0, x1, y1 = box
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.GaussianBlur(grey, (5, 5), 1.5), dtype=np.float32)


def _resize_map(src: tuple[int, int], dst: tuple[int, int]) -> NDArray[np.float64]:
    """Pixel coordinates of an image of shape ``src`` in its resize to ``dst`` (OpenCV's
    pixel-centre convention: x' = sx·(x + ½) − ½)."""
    sx, sy = dst[1] / src[1], dst[0] / src[0]
    return _translate(-0.5, -0.5) @ np.diag([sx, sy, 1.0]) @ _translate(0.5, 0.5)


def _resized(img: NDArray[Any], shape: tuple[int, int], interpolation: int) -> NDArray[Any]:
    return np.asarray(cv2.resize(img, (shape[1], shape[0]), interpolation=interpolation))


def _ecc(
    gb: NDArray[np.float32],
    ga: NDArray[np.float32],
    mask_a: NDArray[np.uint8],
    warp: NDArray[np.float64],
    criteria: tuple[int, int, float],
) -> NDArray[np.float64]:
    _, refined = cv2.findTransformECC(
        gb, ga, warp.astype(np.float32), cv2.MOTION_HOMOGRAPHY, criteria, mask_a, 5
    )
    out = np.asarray(refined, dtype=np.float64)
    return out / out[2, 2]


def photometric_residual(rgb_a: U8, mesh_a: F32, rgb_b: U8, mesh_b: F32) -> float:
    """1 − correlation of the face in b with the face of a under the best homography.

    Near 0: the face region moved like a plane. The homography most favourable to the plane
    hypothesis is used (the ECC-refined one, or the landmark one if ECC does not converge or
    does worse), so an attacker gains nothing by making the refinement fail. A pair that
    carries no evidence (no homography, a near face too small to compare) gets 0: the test
    says "3-D" only on evidence.

    Only the near face and what the far frame shows around it take part: the near face's
    hull (eroded 9×9) is the comparison mask, and ECC aligns that same region (the mask is
    carried into the far frame by the landmark homography: OpenCV's ECC masks its *input*
    image), on crops, coarse to fine (ECC_LEVELS).
    """
    idx = list(RIGID_INDICES)
    h, _ = cv2.findHomography(
        mesh_a[idx, :2].astype(np.float64), mesh_b[idx, :2].astype(np.float64), 0
    )
    if h is None or not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-12:
        return 0.0
    size_a = (rgb_a.shape[1], rgb_a.shape[0])
    size_b = (rgb_b.shape[1], rgb_b.shape[0])
    hull = cv2.convexHull(np.round(mesh_b[:, :2]).astype(np.int32))
    box_b = _box(hull[:, 0], _CROP_PAD, size_b)
    if box_b is None:
        return 0.0
    gb = _grey(rgb_b, box_b)
    mask_u8 = np.zeros(gb.shape, np.uint8)
    cv2.fillConvexPoly(mask_u8, hull - np.array(box_b[:2], np.int32), 255)
    mask_u8 = np.asarray(cv2.erode(mask_u8, np.ones((9, 9), np.uint8)), dtype=np.uint8)
    mask = mask_u8 > 0
    if int(mask.sum()) < _MIN_MASK:
        return 0.0
    # ECC's convention: the warp maps template (b crop) pixels to input (a crop) pixels.
    b_to_a = np.linalg.inv(h) @ _translate(box_b[0], box_b[1])
    corners = np.array(
        [[0, 0], [gb.shape[1], 0], [0, gb.shape[0]], [gb.shape[1], gb.shape[0]]], np.float64
    )
    seen = cv2.perspectiveTransform(corners[None], b_to_a)[0]
    if not np.all(np.isfinite(seen)):
        return 0.0
    extent = float(np.ptp(seen, axis=0).max())
    box_a = _box(seen, _CROP_PAD + 0.25 * extent, size_a)
    if box_a is None:
        return 0.0
    ga = _grey(rgb_a, box_a)
    warp = _translate(-box_a[0], -box_a[1]) @ b_to_a
    warp /= warp[2, 2]
    crop_b = (gb.shape[1], gb.shape[0])
    best = _ncc(_warp(ga, warp, crop_b), gb, mask)
    # The comparison region in the far frame, where ECC may take its samples.
    mask_a = np.asarray(
        cv2.warpPerspective(mask_u8, warp, (ga.shape[1], ga.shape[0]), flags=cv2.INTER_NEAREST),
        dtype=np.uint8,
    )
    iod = _iod(mesh_b)
    refined = warp
    for target, criteria in ECC_LEVELS:
        scale = target / iod if iod > 0 else 1.0
        try:
            if scale >= 0.75:
                refined = _ecc(gb, ga, mask_a, refined, criteria)
                continue
            small_b = (max(round(gb.shape[0] * scale), 8), max(round(gb.shape[1] * scale), 8))
            small_a = (max(round(ga.shape[0] * scale), 8), max(round(ga.shape[1] * scale), 8))
            to_b, to_a = _resize_map(gb.shape, small_b), _resize_map(ga.shape, small_a)
            level = _ecc(
                _resized(gb, small_b, cv2.INTER_AREA),
                _resized(ga, small_a, cv2.INTER_AREA),
                _resized(mask_a, small_a, cv2.INTER_NEAREST),
                to_a @ refined @ np.linalg.inv(to_b),
                criteria,
            )
        except cv2.error:
            break  # no convergence at this level: keep what the levels before found
        refined = np.linalg.inv(to_a) @ level @ to_b
        refined /= refined[2, 2]
    if refined is not warp:
        best = max(best, _ncc(_warp(ga, refined, crop_b), gb, mask))
    return float(1.0 - best)
