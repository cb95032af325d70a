"""ICAO ``background_continuity``: is the background plain and uniform?

The background is every pixel the person segmenter gives < 0.5 (eroded a little so the
person's outline does not count as background texture); without a mask, the photo minus a
generous box around the head and the body below it. On a copy of the photo downscaled to
``WORK_SIDE`` pixels (the measure is about the scene, not fine detail, and must be cheap):

* edge density — share of background pixels whose luma gradient exceeds ``EDGE_LUMA``:
  clutter, patterns, objects (``background_edges`` curve);
* colour spread — robust standard deviation (1.4826·MAD) of CIELAB over the background,
  averaged over L*, a*, b*: several surfaces or colours (``background_spread`` curve).

raw: the edge density. The score is the geometric mean of both curve values (high =
uniform). With under ``MIN_SHARE`` of the photo as background there is nothing to judge and
the score is 0: continuity cannot be confirmed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from faceproof.face.record import PersonMask
from faceproof.face.resample import shrink
from faceproof.quality.config import MEASURES
from faceproof.quality.measure import MeasureResult
from faceproof.quality.order_stats import median, pixels
from faceproof.quality.session import QualitySession

WORK_SIDE = 256
EDGE_LUMA = 8.0  # luma units per pixel at WORK_SIDE
MIN_SHARE = 0.02
ERODE = 5  # pixels at WORK_SIDE


def background_mask(s: QualitySession, size: tuple[int, int]) -> np.ndarray:
    """Background pixels of the downscaled photo (``size`` = (w, h))."""
    w, h = size
    mask = s.person_mask
    if isinstance(mask, PersonMask):
        person = mask.resized((w, h)) >= 0.5
    elif mask is not None:
        person = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA) >= 0.5
    else:
        fx, fy = w / s.image_size[0], h / s.image_size[1]
        lo, hi = s.mesh.min(axis=0), s.mesh.max(axis=0)
        cx, fw, fh = (lo[0] + hi[0]) / 2 * fx, (hi[0] - lo[0]) * fx, (hi[1] - lo[1]) * fy
        person = np.zeros((h, w), dtype=bool)
        x0, x1 = max(0, int(cx - fw)), min(w, int(cx + fw) + 1)
        y0 = max(0, int(lo[1] * fy - 0.6 * fh))
        person[y0:, x0:x1] = True  # head with hair, and the body below it
    kernel = np.ones((2 * ERODE + 1, 2 * ERODE + 1), np.uint8)
    return np.asarray(cv2.erode((~person).astype(np.uint8), kernel) > 0)


class BackgroundContinuity:
    def measure(self, s: QualitySession) -> MeasureResult:
        w0, h0 = s.image_size
        k = min(1.0, WORK_SIDE / max(w0, h0))
        size = (max(1, round(w0 * k)), max(1, round(h0 * k)))
        small = shrink(s.rgb, size)
        bg = background_mask(s, size)
        if np.count_nonzero(bg) < MIN_SHARE * bg.size:
            return MeasureResult(float("nan"), 0.0)
        grey = cv2.GaussianBlur(
            cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0
        )
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        edges = float(np.mean(np.hypot(gx[bg], gy[bg]) > EDGE_LUMA))
        # CIELAB of the background pixels only (a per-pixel conversion), one row per channel
        # for the medians.
        px = pixels(small, bg).astype(np.float32) / 255.0
        lab = cv2.cvtColor(px[None], cv2.COLOR_RGB2Lab)[0].T.copy()  # one long row
        mad = median(np.abs(lab - median(lab)[:, None]))
        spread = float(np.mean(1.4826 * mad))
        score = math.sqrt(
            MEASURES["background_edges"](edges) * MEASURES["background_spread"](spread)
        )
        return MeasureResult(edges, score)
