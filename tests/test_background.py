"""background.py: the reference's colour rules and the blend."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.errors import ApiError
from faceproof.pipeline.background import (
    FALLBACK_COLOUR,
    background_colour,
    parse_colour,
    replace_background,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PORTRAIT = DATA / "misc" / "other_faces" / "dlib__Tom_Cruise_avp_2014_4.jpg"


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("#ffffff", (255, 255, 255)),  # the reference's examples
        ("#000000", (0, 0, 0)),
        ("#ff0000", (255, 0, 0)),
        ("#efefef", (239, 239, 239)),
        ("#12aBCd", (0x12, 0xAB, 0xCD)),  # mixed case is valid
        ("#FFFFFF", (255, 255, 255)),
    ],
)
def test_valid_colours(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_colour(text) == rgb


def test_missing_colour_means_average() -> None:
    assert parse_colour(None) is None


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "ffffff",  # no '#'
        "0xffffff",
        "#00000g",  # outside [0-9a-fA-F]
        "#00ff",  # wrong length
        "#00ff00ff",
        "#fff",
        " #ffffff",
        "#ffffff ",
        "#ffffff\n",
        "##fffff",
        "#ＦＦＦＦＦＦ",  # full-width digits are not hex
        "#٠٠٠٠٠٠",  # Arabic-Indic digits are not hex either
    ],
)
def test_invalid_colours_raise(text: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_colour(text)
    assert info.value.kind.code == 501
    assert info.value.description.startswith('(/backgroundColor) must be a colour as "#rrggbb"')


@pytest.mark.parametrize("value", [0xFFFFFF, ["#ffffff"], True])
def test_non_string_colours_raise(value: object) -> None:
    with pytest.raises(ApiError):
        parse_colour(value)


def _scene() -> tuple[np.ndarray, np.ndarray]:
    if not PORTRAIT.is_file():
        pytest.skip("../shared/data not present")
    bgr = cv2.imread(str(PORTRAIT))
    assert bgr is not None
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    h, w = rgb.shape[:2]
    prob = np.zeros((h, w), np.float32)
    cv2.ellipse(prob, (w // 2, h // 2), (w // 4, h // 3), 0, 0, 360, 1.0, -1)
    return rgb, prob


def test_blend_keeps_the_person_and_paints_the_background() -> None:
    rgb, prob = _scene()
    out = replace_background(rgb, prob, (0, 128, 255))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    # Away from the edge (beyond the few-pixel feather) the result is exact.
    inner = cv2.erode(prob, np.ones((25, 25), np.uint8)) > 0.5
    outer = cv2.dilate(prob, np.ones((25, 25), np.uint8)) < 0.5
    assert inner.sum() > 1000 and outer.sum() > 1000
    assert np.array_equal(out[inner], rgb[inner])
    assert (out[outer] == (0, 128, 255)).all()
    # On the boundary the result lies between the two (a soft edge, no hard cut).
    edge = ~inner & ~outer
    mixed = (out[edge] != rgb[edge]).any(axis=1) & (out[edge] != (0, 128, 255)).any(axis=1)
    assert mixed.mean() > 0.3


def test_default_colour_is_the_mean_background() -> None:
    rgb, prob = _scene()
    expected = rgb[prob < 0.2].reshape(-1, 3).mean(axis=0)
    colour = background_colour(rgb, prob)
    assert np.abs(np.array(colour) - expected).max() <= 0.5
    out = replace_background(rgb, prob, None)
    assert tuple(out[0, 0]) == colour


def test_soft_probability_blends_proportionally() -> None:
    rgb = np.full((64, 64, 3), 200, np.uint8)
    prob = np.full((64, 64), 0.25, np.float32)
    out = replace_background(rgb, prob, (0, 0, 0))
    assert (np.abs(out.astype(int) - 50) <= 1).all()


def test_no_background_falls_back_to_white() -> None:
    rgb = np.zeros((10, 10, 3), np.uint8)
    assert background_colour(rgb, np.ones((10, 10), np.float32)) == FALLBACK_COLOUR


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        replace_background(np.zeros((10, 10, 3), np.uint8), np.zeros((9, 10)), None)
