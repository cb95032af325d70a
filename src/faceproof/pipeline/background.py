"""Background replacement (``enableBackgroundRemoval`` / ``backgroundColor``).

The segmenter gives a person probability per pixel; we blend the photo over a flat colour
with that probability as alpha, softened a little so hair and shoulders do not get a cut-out
edge. The colour rules are the reference's, verbatim (see docs/templates.md).
"""

from __future__ import annotations

import re

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.errors import Problem, problem
from faceproof.face.record import U8

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
BACKGROUND_PROB = 0.2  # below this a pixel counts as background for the mean colour
FALLBACK_COLOUR = (255, 255, 255)  # when no pixel is background (a face filling the frame)


def parse_colour(value: object, field: str = "/backgroundColor") -> tuple[int, int, int] | None:
    """``"#rrggbb"`` (any case) → (r, g, b); ``None`` (not given) → None, meaning "average".

    Everything else, the empty string included, raises ``ERROR_INVALID_JSON`` — the
    reference's "Invalid values should raise an exception"; the request is malformed, the
    image is not at fault.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not _COLOUR.fullmatch(value):
        raise problem(Problem.WRONG_FIELD, field, expected='a colour as "#rrggbb", e.g. "#ffffff"')
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


def background_colour(rgb: U8, person_prob: NDArray[np.floating]) -> tuple[int, int, int]:
    """Mean colour of the pixels the segmenter is fairly sure are background."""
    mask = np.asarray(person_prob) < BACKGROUND_PROB
    if not mask.any():
        return FALLBACK_COLOUR
    flat = rgb.reshape(-1, 3)
    mean = np.take(flat, np.flatnonzero(mask), axis=0).mean(axis=0)  # = rgb[mask], faster
    r, g, b = (round(float(c)) for c in mean)
    return (r, g, b)


def replace_background(
    rgb: U8,
    person_prob: NDArray[np.floating],
    colour: tuple[int, int, int] | None,
) -> U8:
    """The photo over a flat ``colour`` (None: the mean background colour), soft-edged.

    The feather is a Gaussian of about 0.3 % of the image diagonal (≥ 1 px): enough to hide
    the segmentation's staircase, small enough not to halo. Pixels well inside the person
    keep their exact value; pixels well outside become exactly ``colour``.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("expected an HxWx3 uint8 RGB array")
    prob = np.asarray(person_prob, dtype=np.float32)
    if prob.shape != rgb.shape[:2]:
        raise ValueError("person probability must match the image size")
    fill = background_colour(rgb, prob) if colour is None else colour
    h, w = prob.shape
    sigma = max(1.0, 0.003 * float(np.hypot(h, w)))
    alpha = cv2.GaussianBlur(np.clip(prob, 0.0, 1.0), (0, 0), sigmaX=sigma, sigmaY=sigma)
    alpha = np.clip(alpha, 0.0, 1.0)[:, :, None]
    bg = np.asarray(fill, dtype=np.float32).reshape(1, 1, 3)
    out = rgb.astype(np.float32) * alpha + bg * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
