"""BlazeFace face detection (MediaPipe short- and full-range models) on LiteRT.

The models emit raw SSD regressions against a fixed anchor grid; the decoding below follows
MediaPipe's published graph parameters (``SsdAnchorsCalculator`` /
``TensorsToDetectionsCalculator`` / weighted ``NonMaxSuppressionCalculator`` options):

========  =====  ===============  ==================  =======  =====
range     input  strides          anchors per cell    anchors  scale
========  =====  ===============  ==================  =======  =====
short     128    8, 16, 16, 16    2 per layer         896      128
full      192    4                1                   2304     192
========  =====  ===============  ==================  =======  =====

Anchors have a fixed unit size, so a regression is ``anchor_centre + raw / scale`` for centres
and keypoints and ``raw / scale`` for width and height, all relative to the square input. The
input is the image letterboxed (aspect ratio kept, black padding) to the square and scaled to
[-1, 1], so faces are not squashed and results map back exactly to original pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from faceproof.face.record import F32, U8, Detection
from faceproof.face.resample import shrink
from faceproof.models.runtime import TFLiteModel

DetectorRange = Literal["short", "full"]
DetectionMode = Literal["selfie", "document"]


@dataclass(frozen=True)
class _RangeSpec:
    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # aspect ratio 1.0, plus one interpolated-scale anchor for "short"


_SPECS: dict[DetectorRange, _RangeSpec] = {
    "short": _RangeSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    "full": _RangeSpec("face_detection_full_range.tflite", 192, (4,), 1),
}

MODEL_FILES: dict[DetectorRange, str] = {k: v.file for k, v in _SPECS.items()}
_SCORE_CLIP = 100.0  # MediaPipe's score_clipping_thresh: keeps exp() finite


def ssd_anchor_centres(input_size: int, strides: Sequence[int], anchors_per_layer: int) -> F32:
    """Normalised (x, y) anchor centres in the order the model emits its boxes.

    Consecutive layers with the same stride share one feature map, so their anchors are
    emitted together per cell (MediaPipe's grouping): row-major cells, anchors within a cell.
    """
    centres: list[F32] = []
    i = 0
    while i < len(strides):
        stride = strides[i]
        n_layers = 1
        while i + n_layers < len(strides) and strides[i + n_layers] == stride:
            n_layers += 1
        side = math.ceil(input_size / stride)
        grid = (np.arange(side, dtype=np.float32) + 0.5) / side
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        cell = np.stack([xx.ravel(), yy.ravel()], axis=1)
        centres.append(np.repeat(cell, n_layers * anchors_per_layer, axis=0))
        i += n_layers
    return np.concatenate(centres, axis=0).astype(np.float32)


def letterbox(rgb: U8, size: int) -> tuple[F32, F32]:
    """Fit the image into a black ``size``² square, centred, as a [-1, 1] float tensor.

    Returns the (1, size, size, 3) tensor and ``(scale_x, scale_y, offset_x, offset_y)`` that
    map square-pixel coordinates back to image pixels: ``x_img = (x_sq - offset_x) / scale_x``
    (per-axis scales of the actually resized content, exact despite rounding).
    """
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = shrink(rgb, (new_w, new_h))
    off_x, off_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), -1.0, dtype=np.float32)
    canvas[off_y : off_y + new_h, off_x : off_x + new_w] = resized.astype(np.float32) / 127.5 - 1
    return canvas[None], np.array([new_w / w, new_h / h, off_x, off_y], dtype=np.float32)


def _iou(box: F32, boxes: F32) -> F32:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / (area + areas - inter), dtype=np.float32)


def weighted_nms(boxes: F32, keypoints: F32, scores: F32, iou_threshold: float) -> list[Detection]:
    """MediaPipe's weighted NMS: each cluster of overlapping boxes becomes one detection.

    The best box collects every remaining box whose IoU with it exceeds the threshold; the
    result is the score-weighted mean of their boxes and keypoints, with the best score.
    Averaging the many anchors that fire on one face steadies the box between frames.
    """
    out: list[Detection] = []
    remaining = np.argsort(-scores, kind="stable")
    while remaining.size:
        top = remaining[0]
        overlap = _iou(boxes[top], boxes[remaining])
        overlap[0] = 1.0
        cluster = remaining[overlap > iou_threshold]
        remaining = remaining[overlap <= iou_threshold]
        weights = scores[cluster] / scores[cluster].sum()
        box = (boxes[cluster] * weights[:, None]).sum(axis=0)
        kps = (keypoints[cluster] * weights[:, None, None]).sum(axis=0)
        out.append(
            Detection(
                box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                score=float(scores[top]),
                keypoints=kps.astype(np.float32),
            )
        )
    return out


def _as_rgb(image: U8) -> U8:
    """Accept greyscale or RGBA input too; the models need three channels."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {image.shape}")
    return image


class BlazeFaceDetector:
    """One BlazeFace model (``range`` "short" for selfie distance, "full" for up to ~5 m).

    Implements :class:`faceproof.face.record.FaceDetector`. Boxes are not clipped to the
    image: a face cut by the frame edge keeps its estimated full extent.
    """

    def __init__(
        self,
        models_path: Path | str,
        range: DetectorRange = "short",
        score_threshold: float = 0.5,
        iou_threshold: float = 0.3,
        *,
        num_threads: int = 1,
    ) -> None:
        spec = _SPECS[range]
        self.range = range
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.input_size = spec.input_size
        self._model = TFLiteModel(Path(models_path) / spec.file, num_threads=num_threads)
        self._anchors = ssd_anchor_centres(spec.input_size, spec.strides, spec.anchors_per_layer)
        shape = self._model.input().shape
        if shape[1:3] != (spec.input_size, spec.input_size):
            raise ValueError(f"{spec.file}: unexpected input shape {shape}")
        n_out = {o.shape[1] for o in self._model.outputs}
        if n_out != {len(self._anchors)}:
            raise ValueError(f"{spec.file}: outputs {n_out} do not match {len(self._anchors)}")
        self._reg_name = next(o.name for o in self._model.outputs if o.shape[-1] == 16)
        self._cls_name = next(o.name for o in self._model.outputs if o.shape[-1] == 1)

    def detect(self, rgb: U8) -> list[Detection]:
        """All faces with score >= threshold, after weighted NMS, best first."""
        rgb = _as_rgb(rgb)
        h, w = rgb.shape[:2]
        if h == 0 or w == 0:
            return []
        size = self.input_size
        tensor, (sx, sy, off_x, off_y) = letterbox(rgb, size)
        out = self._model.run(tensor)
        logits = np.clip(out[self._cls_name][0, :, 0].astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)
        scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return []
        raw = out[self._reg_name][0, keep]
        anchors = self._anchors[keep]
        # Regressions are in input pixels relative to the anchor centre (scale == input size).
        cx = raw[:, 0] + anchors[:, 0] * size
        cy = raw[:, 1] + anchors[:, 1] * size
        bw, bh = raw[:, 2], raw[:, 3]
        ok = (bw > 0) & (bh > 0)
        if not ok.any():
            return []
        kx = raw[:, 4::2] + anchors[:, :1] * size
        ky = raw[:, 5::2] + anchors[:, 1:2] * size
        # Letterbox square pixels -> image pixels.
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        boxes = (boxes - np.array([off_x, off_y, off_x, off_y])) / np.array([sx, sy, sx, sy])
        kps = np.stack([(kx - off_x) / sx, (ky - off_y) / sy], axis=2)
        dets = weighted_nms(
            boxes[ok].astype(np.float32),
            kps[ok].astype(np.float32),
            scores[keep][ok],
            self.iou_threshold,
        )
        return sorted(dets, key=lambda d: d.score, reverse=True)


def overlaps(det: Detection, others: Sequence[Detection], iou_threshold: float = 0.3) -> bool:
    """Same face: IoU above the threshold, or ``det``'s centre inside another box."""
    if not others:
        return False
    boxes = np.array([o.box for o in others], dtype=np.float32)
    if (_iou(np.array(det.box, dtype=np.float32), boxes) > iou_threshold).any():
        return True
    cx, cy = det.center
    return any(o.box[0] <= cx <= o.box[2] and o.box[1] <= cy <= o.box[3] for o in others)


class FaceDetectorSet:
    """Both BlazeFace models, combined per capture kind.

    * ``"selfie"`` (SDK captures, a cooperative face at arm's length): the short-range model
      gives the main face (its box and keypoints are what MediaPipe's face-mesh ROI expects).
      It cannot see faces under ~15 % of the frame width, yet those are exactly the people in
      the background that the ``multiple_faces`` flag is about, so full-range detections that
      overlap no short-range face are added. On our negatives the full-range model adds no
      false positives; the extra cost is one 192² inference (~3 ms).
    * ``"document"`` (ID portraits and third-party images, any face size): the full-range
      model; when it finds nothing, the short-range model on the same letterboxed image. The
      full-range model under-scores close-up crops where the face fills the frame (its
      training range), which is exactly the short-range model's domain.

    ``detect(rgb)`` with the default mode satisfies the ``FaceDetector`` Protocol.
    """

    def __init__(
        self,
        models_path: Path | str,
        score_threshold: float = 0.5,
        iou_threshold: float = 0.3,
        *,
        num_threads: int = 1,
    ) -> None:
        self.short = BlazeFaceDetector(
            models_path, "short", score_threshold, iou_threshold, num_threads=num_threads
        )
        self.full = BlazeFaceDetector(
            models_path, "full", score_threshold, iou_threshold, num_threads=num_threads
        )
        self.iou_threshold = iou_threshold

    def _run(
        self, which: DetectorRange, rgb: U8, seen: dict[str, list[Detection]] | None
    ) -> list[Detection]:
        """One model's detections; with ``seen``, each model runs at most once per image."""
        model = self.short if which == "short" else self.full
        if seen is None:
            return model.detect(rgb)
        if which not in seen:
            seen[which] = model.detect(rgb)
        return seen[which]

    def detect_all(
        self, rgb: U8, seen: dict[str, list[Detection]] | None = None
    ) -> list[Detection]:
        """Both models' detections, unmerged (for corroborating a doubtful face); the models
        ``detect`` already ran with the same ``seen`` are not run again."""
        return self._run("short", rgb, seen) + self._run("full", rgb, seen)

    def detect(
        self,
        rgb: U8,
        mode: DetectionMode = "selfie",
        seen: dict[str, list[Detection]] | None = None,
    ) -> list[Detection]:
        """All faces for the capture kind, best score first. ``seen`` (optional, empty at
        first) collects each model's raw detections for a later :meth:`detect_all`."""
        if mode == "selfie":
            dets = self._run("short", rgb, seen)
            full = self._run("full", rgb, seen)
            dets = dets + [d for d in full if not overlaps(d, dets, self.iou_threshold)]
        elif mode == "document":
            dets = self._run("full", rgb, seen) or self._run("short", rgb, seen)
        else:
            raise ValueError(f"unknown detection mode {mode!r}")
        return sorted(dets, key=lambda d: d.score, reverse=True)


def prominence(det: Detection, image_size: tuple[int, int]) -> float:
    """Area × centrality: a face at the image centre counts fully, one in a corner half.

    ``image_size`` is (width, height). Centrality is ``1 - 0.5 · d`` with ``d`` the distance
    of the face centre from the image centre over the half-diagonal (clipped to 1), so size
    dominates and position breaks near-ties, as a person framing a photo would judge.
    """
    w, h = image_size
    cx, cy = det.center
    d = math.hypot(cx - w / 2, cy - h / 2) / max(math.hypot(w / 2, h / 2), 1e-6)
    return max(det.width, 0.0) * max(det.height, 0.0) * (1.0 - 0.5 * min(d, 1.0))


def most_prominent(
    dets: Sequence[Detection],
    image_size: tuple[int, int],
    min_relative_width: float = 0.2,
) -> tuple[Detection | None, bool]:
    """The main face and whether other real faces are present.

    Another detection counts as a second face only when its width is at least
    ``min_relative_width`` of the main face's: much smaller faces are background noise for
    this purpose (a face printed on a poster, badge or ID card in view, a passer-by far
    away), and a 20 % face is already below what the quality stages could use.
    ``image_size`` is (width, height).
    """
    if not dets:
        return None, False
    main = max(dets, key=lambda d: prominence(d, image_size))
    others = [d for d in dets if d is not main and d.width >= min_relative_width * main.width]
    return main, bool(others)
