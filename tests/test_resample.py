"""``face.resample.shrink``: the two-step area shrink stays an area shrink."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceproof.face.resample import shrink


def _scene(w: int, h: int) -> np.ndarray:
    """A textured test card: gradients, a sharp edge and fine stripes (aliasing bait)."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = (xx * 255 // max(w - 1, 1)).astype(np.uint8)
    g = ((xx // 2 + yy // 2) % 2 * 255).astype(np.uint8)  # 2-pixel checker
    b = np.where(xx > w // 3, 220, 30).astype(np.uint8)
    return np.ascontiguousarray(np.stack([r, g, b], axis=2))


@pytest.mark.parametrize(
    ("src", "dst"),
    [((640, 480), (192, 144)), ((640, 480), (256, 256)), ((640, 480), (256, 192)),
     ((1280, 720), (192, 108)), ((4032, 3024), (256, 192)), ((641, 479), (192, 144))],
)  # fmt: skip
def test_shrink_is_close_to_one_step_area(src: tuple[int, int], dst: tuple[int, int]) -> None:
    img = _scene(*src)
    got = shrink(img, dst)
    ref = cv2.resize(img, dst, interpolation=cv2.INTER_AREA)
    assert got.shape == ref.shape and got.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - ref.astype(np.int16))
    assert diff.mean() < 2.0  # grey levels, on a card made to provoke differences
    # The checker must stay averaged out as much as by the one-step area filter, not alias
    # into stripes as bilinear sampling does.
    g = got[:, :, 1].astype(np.float64)
    one_step = ref[:, :, 1].astype(np.float64)
    assert abs(g.mean() - 127.5) < 6 and g.std() < 1.2 * one_step.std() + 3
    lin = cv2.resize(img, dst, interpolation=cv2.INTER_LINEAR)[:, :, 1].astype(np.float64)
    assert lin.std() > g.std()


def test_shrink_grows_bilinearly_and_keeps_exact_sizes() -> None:
    img = _scene(100, 80)
    assert np.array_equal(shrink(img, (100, 80)), img)
    up = shrink(img, (200, 160))
    assert np.array_equal(up, cv2.resize(img, (200, 160), interpolation=cv2.INTER_LINEAR))
