"""The Silent-Face MiniFASNet pair: the primary passive liveness score.

Two 80×80 classifiers (Apache-2.0, minivision-ai/Silent-Face-Anti-Spoofing @b6d5f04a,
converted to ONNX by ``tools/convert_minifasnet.py`` and committed beside this package's
model manifest, see ``models/minifasnet/NOTICE``). Each sees the face in its own context
window: **2.7×** (MiniFASNetV2) and **4.0×** (MiniFASNetV1SE) the face box *as upstream's
detector draws it*. The score is upstream's: the mean of the two networks' class-1 ("real")
softmax probabilities, in [0, 1], 1 = bona fide.

**Box mapping.** Upstream's boxes come from a WIDER-FACE-style SSD detector: taller than
wide, reaching higher up the forehead than BlazeFace's square box. Measured on the dev PAD
crops, which *are* such boxes (OpenCV's res10 SSD, the whole crop is the box), against the
BlazeFace box found on the same crop (per source and class, the median ratio; the mapping is
the mean of the four medians, docs/liveness.md): width 0.83×, height 1.22×, centre 0.07 box
heights above BlazeFace's centre.

**Window.** As upstream crops: the window is the mapped box scaled by the network's factor,
shrunk (same factor on both sides) when it is larger than the image, then shifted inside the
image; the pixels are resized to 80×80 with bilinear interpolation (the aspect is not kept,
as in training), fed in BGR order with raw 0–255 values. ``context`` is the factor actually
used over the nominal one: 1 when the whole window fits, lower when the image is too tight
around the face (a detector crop gives 0.28–0.41). The networks were trained on full
frames; a tight crop (context below ``MIN_CONTEXT``) is outside what they know
(``LivenessService`` does not judge it and reports it through the ``quality`` flag).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceproof import inference_timing
from faceproof.face.record import U8, Detection
from faceproof.models.runtime import onnx_session

INPUT_SIZE = 80
# name → nominal window scale (over the upstream-style face box)
NETWORKS: tuple[tuple[str, float], ...] = (
    ("MiniFASNetV2_2.7_80x80.onnx", 2.7),
    ("MiniFASNetV1SE_4.0_80x80.onnx", 4.0),
)
# BlazeFace box → upstream detector box (measured, module docstring)
BOX_WIDTH, BOX_HEIGHT, BOX_SHIFT_Y = 0.83, 1.22, -0.07
REAL_CLASS = 1
# Least context (V2's usable window scale over 2.7) at which the pair's score is trusted.
# Measured on the 640×480 webcam clips of ../shared/data/video, cropped ever tighter around
# the face (docs/liveness.md): live frames keep ≥ 0.94 down to 0.71 and fall apart below
# 0.6, while phone-replay frames, 0.06 at most in the full frame, reach 0.96 once the crop
# cuts the phone's border off (0.70). 0.64 also admits every face the SDK's default oval
# accepts in a 640×480 frame (box height ≤ 0.78 × 0.6 × 480 px gives 0.647).
MIN_CONTEXT = 0.64


def bundled_dir() -> Path:
    """The folder of the committed ONNX files (inside the installed package)."""
    return Path(str(resources.files("faceproof").joinpath("models", "minifasnet")))


def upstream_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """(x, y, w, h) of the upstream-style face box for a BlazeFace box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + BOX_SHIFT_Y * bh
    w, h = BOX_WIDTH * bw, BOX_HEIGHT * bh
    return (cx - w / 2, cy - h / 2, w, h)


def usable_scale(
    image_wh: tuple[int, int], ubox: tuple[float, float, float, float], scale: float
) -> float:
    """The window scale upstream's routine ends up with: ``scale``, or less when the image
    cannot hold the window (the box side times the scale must fit in the image side − 1)."""
    img_w, img_h = image_wh
    bw, bh = max(ubox[2], 1.0), max(ubox[3], 1.0)
    return float(min(scale, (img_h - 1) / bh, (img_w - 1) / bw))


def context(image_wh: tuple[int, int], box: tuple[float, float, float, float]) -> float:
    """V2's usable window scale over its nominal 2.7 for a BlazeFace box: 1 = full context."""
    return usable_scale(image_wh, upstream_box(box), NETWORKS[0][1]) / NETWORKS[0][1]


def crop_window(rgb: U8, ubox: tuple[float, float, float, float], scale: float) -> tuple[U8, float]:
    """The network's 80×80 input (RGB) and the scale actually used over ``scale``."""
    img_h, img_w = rgb.shape[:2]
    x, y, bw, bh = ubox
    bw, bh = max(bw, 1.0), max(bh, 1.0)
    used = usable_scale((img_w, img_h), ubox, scale)
    w, h = bw * used, bh * used
    cx, cy = x + bw / 2, y + bh / 2
    left, top, right, bottom = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    # Shift (never shrink further) so the window lies inside the image.
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > img_w - 1:
        left, right = left - (right - img_w + 1), img_w - 1.0
    if bottom > img_h - 1:
        top, bottom = top - (bottom - img_h + 1), img_h - 1.0
    x0, y0 = max(int(left), 0), max(int(top), 0)
    x1, y1 = int(right), int(bottom)
    patch = rgb[y0 : y1 + 1, x0 : x1 + 1]
    if patch.size == 0:
        patch = rgb
    out = cv2.resize(patch, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out, dtype=np.uint8), float(used / scale)


def network_input(crop_rgb: U8) -> np.ndarray[Any, np.dtype[np.float32]]:
    """(1, 3, 80, 80) float32, BGR, raw 0–255: upstream's feeding convention."""
    bgr = crop_rgb[:, :, ::-1].astype(np.float32)
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])


@dataclass(frozen=True)
class PairScore:
    """Each network's real probability, the pair's score, and how much context was there."""

    v2: float
    v1se: float
    context_v2: float  # used scale / 2.7
    context_v1se: float  # used scale / 4.0

    @property
    def score(self) -> float:
        return (self.v2 + self.v1se) / 2


class MiniFASNetPair:
    """Both networks, loaded once; ``score`` is thread-safe (onnxruntime ``run`` is)."""

    def __init__(self, folder: Path | None = None) -> None:
        folder = Path(folder) if folder is not None else bundled_dir()
        self._nets = [(onnx_session(folder / name), scale) for name, scale in NETWORKS]
        self._names = [name.split("_", 1)[0] for name, _ in NETWORKS]  # for /metrics
        self._input = [s.get_inputs()[0].name for s, _ in self._nets]

    def probabilities(self, rgb: U8, detection: Detection) -> list[tuple[np.ndarray, float]]:
        """Per network: the 3 class probabilities and the context ratio."""
        ubox = upstream_box(detection.box)
        out = []
        for (sess, scale), name, model in zip(self._nets, self._input, self._names, strict=True):
            crop, ctx = crop_window(rgb, ubox, scale)
            started = time.perf_counter()
            probs = sess.run(None, {name: network_input(crop)})[0][0]
            inference_timing.record(model, time.perf_counter() - started)
            out.append((np.asarray(probs, dtype=np.float64), ctx))
        return out

    def score(self, rgb: U8, detection: Detection) -> PairScore:
        (p2, c2), (p1, c1) = self.probabilities(rgb, detection)
        return PairScore(float(p2[REAL_CLASS]), float(p1[REAL_CLASS]), c2, c1)
