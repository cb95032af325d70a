"""align.py: the estimated transform, and where points really land after warping pixels.

Landing positions are measured in the warped *image* (centroids of painted markers), not by
pushing the points through our own matrix, so a wrong warp convention cannot pass.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.pipeline.align import (
    ARCFACE_112,
    TOKEN_MIN_WIDTH,
    aligned_crop,
    default_token_width,
    similarity_align,
    similarity_matrix,
    token_eye_positions,
    token_frontal,
    transform_points,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PORTRAIT = DATA / "misc" / "other_faces" / "dlib__Tom_Cruise_avp_2014_4.jpg"
MARK = (0, 255, 0)


def _portrait() -> np.ndarray:
    if not PORTRAIT.is_file():
        pytest.skip("../shared/data not present")
    bgr = cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR)
    assert bgr is not None
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    # Remove any pre-existing marker-coloured pixels so only our markers match.
    strong_green = (rgb[:, :, 1] > 150) & (rgb[:, :, 0] < 120) & (rgb[:, :, 2] < 120)
    rgb[strong_green] = (128, 128, 128)
    return rgb


def _rot_scale(deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)) * scale, math.sin(math.radians(deg)) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


def _paint(rgb: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    out = rgb.copy()
    for x, y in points:
        # Sub-pixel accurate disc (shift=4 → 1/16 px) so the reference position is exact.
        cv2.circle(out, (round(x * 16), round(y * 16)), radius * 16, MARK, -1, cv2.LINE_AA, 4)
    return out


def _marker_centroids(rgb: np.ndarray) -> np.ndarray:
    score = rgb[:, :, 1].astype(np.float64) - np.maximum(rgb[:, :, 0], rgb[:, :, 2])
    weight = np.clip(score, 0, None)
    n, labels = cv2.connectedComponents((weight > 40).astype(np.uint8))
    centres = []
    for i in range(1, n):
        ys, xs = np.nonzero(labels == i)
        w = weight[ys, xs]
        centres.append((float((xs * w).sum() / w.sum()), float((ys * w).sum() / w.sum())))
    return np.array(centres)


def _match(found: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Distance from each expected point to the nearest found marker (and counts agree)."""
    assert len(found) == len(expected), (found, expected)
    d = np.linalg.norm(found[None, :, :] - expected[:, None, :], axis=2)
    return d.min(axis=1)


# ---------------------------------------------------------------- the transform itself


@pytest.mark.parametrize("seed", range(5))
def test_similarity_matrix_recovers_a_known_similarity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    true = _rot_scale(rng.uniform(-180, 180), rng.uniform(0.2, 5), *rng.uniform(-300, 300, 2))
    src = rng.uniform(0, 500, (7, 2))
    m = similarity_matrix(src, transform_points(true, src))
    assert np.allclose(m, true, atol=1e-8)


def test_similarity_matrix_is_the_least_squares_solution() -> None:
    # Independent solution: a similarity is linear in (a, b, tx, ty) with x' = a·x − b·y + tx,
    # y' = b·x + a·y + ty; solve that with lstsq and compare.
    rng = np.random.default_rng(7)
    src = ARCFACE_112 * 3 + rng.normal(0, 4, (5, 2))
    dst = ARCFACE_112 + rng.normal(0, 2, (5, 2))
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
        rhs += [u, v]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    assert np.allclose(similarity_matrix(src, dst), [[a, -b, tx], [b, a, ty]], atol=1e-9)


def test_similarity_never_reflects() -> None:
    src = np.array([[0, 0], [10, 0], [0, 10]], float)
    mirrored = src * [-1, 1]
    m = similarity_matrix(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_degenerate_points_are_rejected() -> None:
    with pytest.raises(ValueError):
        similarity_matrix([[5, 5], [5, 5]], [[0, 0], [1, 1]])


# ---------------------------------------------------------------- 112×112 alignment


@pytest.mark.parametrize(("deg", "scale"), [(0.0, 2.0), (25.0, 2.6), (-40.0, 1.4), (170.0, 3.0)])
def test_five_points_land_on_the_template(deg: float, scale: float) -> None:
    rgb = _portrait()
    h, w = rgb.shape[:2]
    # A face-shaped point set: the template moved into the photo by a known similarity.
    place = _rot_scale(deg, scale, 0, 0)
    pts = transform_points(place, ARCFACE_112 - 56)
    pts += np.array([w / 2, h / 2]) - pts.mean(axis=0)
    painted = _paint(rgb, pts, radius=round(2.5 * scale))
    out = similarity_align(painted, pts)
    assert out.shape == (112, 112, 3) and out.dtype == np.uint8
    assert _match(_marker_centroids(out), ARCFACE_112).max() < 2.0


def test_alignment_of_a_large_face_is_antialiased_and_placed() -> None:
    rgb = _portrait()
    big = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    pts = transform_points(_rot_scale(10, 12.0, 0, 0), ARCFACE_112 - 56)
    pts += np.array([big.shape[1] / 2, big.shape[0] / 2]) - pts.mean(axis=0)
    out = similarity_align(_paint(big, pts, radius=30), pts)  # scale ≈ 1/12: area pre-resize
    assert _match(_marker_centroids(out), ARCFACE_112).max() < 2.0


def test_other_output_size_scales_the_template() -> None:
    rgb = _portrait()
    pts = transform_points(_rot_scale(5, 2.0, 200, 300), ARCFACE_112)
    out = similarity_align(_paint(rgb, pts, radius=5), pts, size=224)
    assert out.shape == (224, 224, 3)
    assert _match(_marker_centroids(out), ARCFACE_112 * 2).max() < 2.0


# ---------------------------------------------------------------- ISO token frontal


def test_token_geometry_constants() -> None:
    (lx, ly), (rx, ry) = token_eye_positions(240)
    assert (lx, rx, ly, ry) == (89.0, 149.0, 144.0, 144.0)  # 0.375W−1, 0.625W−1, 0.6W
    assert rx - lx == 0.25 * 240


@pytest.mark.parametrize("roll", [0.0, 15.0, -28.0])
def test_token_frontal_puts_the_eyes_where_the_standard_says(roll: float) -> None:
    rgb = _portrait()
    h, w = rgb.shape[:2]
    # Rotate the real photo; the "eyes" are two points rotated with it (painted afterwards).
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
    rotated = cv2.warpAffine(rgb, rot, (w, h), borderMode=cv2.BORDER_REFLECT)
    eyes = transform_points(rot, [[w / 2 - 70, h / 2 - 40], [w / 2 + 70, h / 2 - 40]])
    painted = _paint(rotated, eyes, radius=4)

    tok = token_frontal(painted, eyes[0], eyes[1])
    assert tok.width == default_token_width(eyes[0], eyes[1]) == 552  # 4·140 → multiple of 24
    assert tok.image.shape == (tok.height, tok.width, 3)
    assert tok.height * 3 == tok.width * 4
    expected = np.array(token_eye_positions(tok.width))
    found = _marker_centroids(tok.image)
    assert _match(found, expected).max() < 2.0
    left, right = sorted(found.tolist())
    assert abs(left[1] - right[1]) < 1.0  # eye line horizontal in the output
    assert np.allclose([tok.left_eye, tok.right_eye], expected, atol=1e-6)


def test_token_width_defaults_and_limits() -> None:
    assert default_token_width((0, 0), (30, 0)) == TOKEN_MIN_WIDTH  # small face: upsampled
    assert default_token_width((0, 0), (100, 0)) == 384  # no upsampling: 4·100 → 384
    with pytest.raises(ValueError):
        token_frontal(np.zeros((50, 50, 3), np.uint8), (10, 10), (20, 10), width=200)


def test_token_fill_colour_paints_outside_the_source() -> None:
    rgb = _portrait()
    # Eyes near the top-left corner: much of the token lies outside the photo.
    eyes = np.array([[20.0, 20.0], [90.0, 20.0]])
    filled = token_frontal(rgb, eyes[0], eyes[1], width=480, fill=(255, 0, 255))
    corner = filled.image[:20, :20].reshape(-1, 3)
    assert (corner == (255, 0, 255)).all()
    replicated = token_frontal(rgb, eyes[0], eyes[1], width=480)
    assert not (replicated.image[:20, :20].reshape(-1, 3) == (255, 0, 255)).all(axis=1).any()


def test_aligned_crop_is_the_default_token() -> None:
    rgb = _portrait()
    crop = aligned_crop(rgb, (230, 300), (330, 300))
    assert crop.shape == (512, 384, 3)
