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
    return float((x @ y) / (np.sqrt((x @ x) * (y @ y)) + 1e-9))


def _warp(
    img: NDArray[np.float32], warp: NDArray[Any], size: tuple[int, int]
) -> NDArray[np.float32]:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return np.asarray(cv2.warpPerspective(img, warp, size, flags=flags), dtype=np.float32)


def photometric_residual(rgb_a: U8, mesh_a: F32, rgb_b: U8, mesh_b: F32) -> float:
    """1 − correlation of the face in b with the face of a under the best homography.

    Near 0: the face region moved like a plane. The homography most favourable to the plane
    hypothesis is used (the ECC-refined one, or the landmark one if ECC does not converge),
    so an attacker gains nothing by making the refinement fail.
    """
    idx = list(RIGID_INDICES)
    h, _ = cv2.findHomography(
        mesh_a[idx, :2].astype(np.float64), mesh_b[idx, :2].astype(np.float64), 0
    )
    if h is None:
        return 1.0
    grey_a = cv2.GaussianBlur(cv2.cvtColor(rgb_a, cv2.COLOR_RGB2GRAY), (5, 5), 1.5)
    grey_b = cv2.GaussianBlur(cv2.cvtColor(rgb_b, cv2.COLOR_RGB2GRAY), (5, 5), 1.5)
    ga, gb = grey_a.astype(np.float32), grey_b.astype(np.float32)
    mask_u8 = np.zeros(gb.shape, np.uint8)
    hull = cv2.convexHull(np.round(mesh_b[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask_u8, hull, 255)
    mask_u8 = np.asarray(cv2.erode(mask_u8, np.ones((9, 9), np.uint8)), dtype=np.uint8)
    mask = mask_u8 > 0
    if mask.sum() < 400:
        return 1.0
    size = (gb.shape[1], gb.shape[0])
    warp = np.linalg.inv(h).astype(np.float32)  # maps b's pixels to a's (ECC's convention)
    best = _ncc(_warp(ga, warp, size), gb, mask)
    try:
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
        _, refined = cv2.findTransformECC(
            gb, ga, warp.copy(), cv2.MOTION_HOMOGRAPHY, criteria, mask_u8, 5
        )
        best = max(best, _ncc(_warp(ga, refined, size), gb, mask))
    except cv2.error:
        pass  # no convergence: keep the landmark homography's alignment
    return float(1.0 - best)
