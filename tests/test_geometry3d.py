"""The photometric planarity residual (``geometry3d.photometric_residual``) on synthetic scenes.

A smooth random texture stands for the far frame; the near frame is made from it by a known
backward map ``g`` (near pixel → far pixel): a homography (a plane brought closer) or a
homography with a dome-like magnification of the middle (what perspective does to a face,
whose centre is nearer the camera). The "mesh" is a cloud of points in an ellipse with the
eye corners (33, 263) placed apart, mapped by the same ``g``: exactly the correspondences
the landmark homography is fitted to. No model is needed, so every branch of the cropped,
coarse-to-fine alignment can be reached: faces in the middle, at the border, tiny, shifted.
A perfectly aligned plane still leaves ~0.002 here (the near frame is an interpolated
enlargement of the far one), hence PLANE below.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from faceproof.liveness import geometry3d as g
from faceproof.liveness.challenge import PHOTOMETRIC_MIN

W, H = 640, 480
PLANE = 0.25 * PHOTOMETRIC_MIN  # what an aligned plane must stay under in these scenes
Map = Callable[[np.ndarray], np.ndarray]  # (N, 2) near-frame points -> far-frame points


def texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(size=(H, W)).astype(np.float32), (0, 0), 3.0)
    grey = cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.dstack([grey, 255 - grey, grey // 2 + 64])


def near_mesh(centre: tuple[float, float], iod: float, seed: int = 1) -> np.ndarray:
    """468 points in a face-sized ellipse (width 2.4·iod, height 3·iod) around ``centre``."""
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2 * np.pi, 468)
    rad = np.sqrt(rng.uniform(0, 1, 468))
    pts = np.stack([1.2 * iod * rad * np.cos(ang), 1.5 * iod * rad * np.sin(ang)], axis=1)
    pts[33], pts[263] = (-iod / 2, -0.3 * iod), (iod / 2, -0.3 * iod)
    pts += np.array(centre)
    return np.hstack([pts, np.zeros((468, 1))]).astype(np.float32)


def homography_map(scale: float, tilt: float, centre: tuple[float, float]) -> Map:
    """Backward map of a plane brought ``scale`` times closer about ``centre``, with keystone."""
    c = np.array(centre)
    h = np.array([[scale, 0, 0], [0, scale, 0], [tilt, 0, 1.0]])
    fwd = np.array([[1, 0, c[0]], [0, 1, c[1]], [0, 0, 1]]) @ h
    fwd = fwd @ np.array([[1, 0, -c[0]], [0, 1, -c[1]], [0, 0, 1]])
    inv = np.linalg.inv(fwd)
    return lambda p: cv2.perspectiveTransform(p[None].astype(np.float64), inv)[0]


def dome_map(scale: float, centre: tuple[float, float], radius: float, bulge: float) -> Map:
    """Closer by ``scale``, the middle magnified up to ``bulge`` more (not a homography)."""
    c = np.array(centre)

    def back(p: np.ndarray) -> np.ndarray:
        d = p - c
        r2 = np.sum(d * d, axis=1, keepdims=True) / radius**2
        return c + d / scale / (1 + bulge * np.clip(1 - r2, 0, None))

    return back


def render(far: np.ndarray, back: Map) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W]
    src = back(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64))
    mx, my = (src[:, i].reshape(H, W).astype(np.float32) for i in (0, 1))
    return np.asarray(cv2.remap(far, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))


def pair(back: Map, centre: tuple[float, float], iod: float, noise: float = 0.0) -> tuple:
    far = texture()
    mesh_b = near_mesh(centre, iod)
    mesh_a = mesh_b.copy()
    mesh_a[:, :2] = back(mesh_b[:, :2].astype(np.float64))
    if noise:  # landmark jitter: the landmark homography alone is then off by about that
        mesh_b[:, :2] += np.random.default_rng(2).normal(0, noise, (468, 2))
    return far, mesh_a, render(far, back), mesh_b


@pytest.mark.parametrize(("scale", "tilt"), [(1.3, 0.0), (1.45, 3e-4), (1.25, -4e-4)])
def test_a_plane_aligns(scale: float, tilt: float) -> None:
    centre = (330.0, 250.0)
    r = g.photometric_residual(*pair(homography_map(scale, tilt, centre), centre, 110.0))
    assert 0.0 <= r < PLANE


def test_ecc_recovers_what_landmark_jitter_loses() -> None:
    """With 3 px of landmark noise the landmark homography alone leaves a residual that ECC
    (coarse then full scale, on the face crop) removes."""
    centre = (320.0, 240.0)
    a, ma, b, mb = pair(homography_map(1.35, 2e-4, centre), centre, 110.0, noise=3.0)
    levels = g.ECC_LEVELS
    try:
        g.ECC_LEVELS = ()
        landmarks_only = g.photometric_residual(a, ma, b, mb)
    finally:
        g.ECC_LEVELS = levels
    refined = g.photometric_residual(a, ma, b, mb)
    assert refined < PLANE < landmarks_only


def test_a_dome_does_not_align() -> None:
    centre = (320.0, 240.0)
    r = g.photometric_residual(*pair(dome_map(1.35, centre, 160.0, 0.12), centre, 110.0))
    assert r >= 2 * PHOTOMETRIC_MIN


def test_the_residual_does_not_depend_on_where_the_face_is() -> None:
    """The crops and the warp's translations to and from them cancel out (the planes' landmarks
    are jittered, so that only a correct ECC alignment brings them under PLANE)."""
    planes, domes = [], []
    for centre in ((320.0, 240.0), (200.0, 300.0), (455.0, 170.0)):
        plane = pair(homography_map(1.35, 2e-4, centre), centre, 100.0, noise=3.0)
        planes.append(g.photometric_residual(*plane))
        domes.append(
            g.photometric_residual(*pair(dome_map(1.35, centre, 160.0, 0.12), centre, 100.0))
        )
    assert max(planes) < PLANE
    assert min(domes) >= PHOTOMETRIC_MIN
    assert max(domes) - min(domes) < 0.1 * min(domes)


def test_a_face_cut_by_the_frame_border() -> None:
    """The near face's hull runs past the frame's edge: the crops are clipped to the frame."""
    centre = (600.0, 60.0)
    plane = g.photometric_residual(*pair(homography_map(1.35, 0.0, centre), centre, 110.0))
    dome = g.photometric_residual(*pair(dome_map(1.35, centre, 160.0, 0.12), centre, 110.0))
    assert plane < PLANE and dome >= PHOTOMETRIC_MIN


def test_a_small_face_runs_at_full_scale() -> None:
    """An inter-ocular distance below the coarse level's: every level at full scale."""
    centre = (320.0, 240.0)
    iod = 0.6 * g.ECC_LEVELS[0][0]
    plane = g.photometric_residual(*pair(homography_map(1.3, 0.0, centre), centre, iod))
    dome = g.photometric_residual(*pair(dome_map(1.3, centre, 1.3 * iod, 0.4), centre, iod))
    assert plane < PLANE and dome >= 2 * PHOTOMETRIC_MIN


def test_a_face_filling_the_frame_is_polished_below_full_scale() -> None:
    """Inter-ocular distance above the last level's: every level on a reduced crop."""
    centre = (320.0, 240.0)
    iod = 1.8 * g.ECC_LEVELS[-1][0]
    plane = pair(homography_map(1.3, 2e-4, centre), centre, iod, noise=3.0)
    dome = pair(dome_map(1.3, centre, 1.5 * iod, 0.12), centre, iod)
    assert g.photometric_residual(*plane) < PLANE
    assert g.photometric_residual(*dome) >= 2 * PHOTOMETRIC_MIN


def test_no_evidence_is_not_3d() -> None:
    """A face too small to compare, degenerate landmarks, a featureless far frame: never a
    residual that passes for a 3-D face on its own account."""
    centre = (320.0, 240.0)
    a, ma, b, mb = pair(homography_map(1.3, 0.0, centre), centre, 5.0)
    assert g.photometric_residual(a, ma, b, mb) == 0.0
    a, ma, b, mb = pair(homography_map(1.3, 0.0, centre), centre, 100.0)
    flat = np.zeros_like(ma)
    assert g.photometric_residual(a, flat, b, flat) == 0.0
    # ECC cannot align a blank far frame; the landmark homography's 1 − NCC stays finite.
    r = g.photometric_residual(np.full_like(a, 128), ma, b, mb)
    assert np.isfinite(r) and 0.0 <= r <= 2.0
