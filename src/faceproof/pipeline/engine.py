"""The face engine: the models of one worker and the stage order, built once at start-up.

Routers ask the engine for what they need (``analyse`` for a face record with landmarks and
pose, ``embedding`` for a recognition vector, ``person_mask`` for background removal); each
stage module stays independent of HTTP and of the other stages.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2

from faceproof.config import Settings
from faceproof.face.pose import estimate_pose
from faceproof.face.record import F32, U8, Detection, FaceRecord, PersonMask
from faceproof.models.blazeface import FaceDetectorSet, most_prominent
from faceproof.models.centernet import ANIMALS, CenterNetObjects
from faceproof.models.facemesh import FaceMeshModel
from faceproof.models.iris import IrisModel
from faceproof.models.mobilefacenet import (
    DEFAULT_EMBEDDING,
    EmbeddingMethod,
    MobileFaceNetEmbedder,
)
from faceproof.models.segmenter import SelfieSegmenter
from faceproof.models.store import require_models
from faceproof.pipeline.align import similarity_align
from faceproof.pipeline.face_check import doubt_matters, drop_animal_faces
from faceproof.pipeline.landmarks import LandmarkStage

Mode = Literal["selfie", "document"]

# Files the server cannot run without (the liveness model is added by its own stage).
REQUIRED_MODELS = (
    "face_detection_short_range.tflite",
    "face_detection_full_range.tflite",
    "face_landmark.tflite",
    "iris_landmark.tflite",
    "MobileFaceNet.tflite",
    "selfie_segmentation.tflite",
    "centernet.json",
    "centernet.bin",
)


@dataclass
class FaceSearch:
    """Detector output for one image: every face, the chosen one, and the multi-face flag."""

    faces: list[Detection]
    main: Detection | None
    multiple: bool


class FaceEngine:
    def __init__(self, models_path: Path) -> None:
        # Scaling is by worker processes (one per core) and the models run one LiteRT
        # thread each; OpenCV's own thread pool (as many threads as cores by default) only
        # adds synchronisation CPU on these small images, for no faster wall time.
        # A process-wide setting.
        cv2.setNumThreads(1)
        self.models_path = models_path
        self.detectors = FaceDetectorSet(models_path)
        self.objects = CenterNetObjects(models_path)
        self.landmark_stage = LandmarkStage(FaceMeshModel(models_path), IrisModel(models_path))
        self.embedder = MobileFaceNetEmbedder(models_path)
        # Fixed for the engine's life: records cache their embedding (calibrate and eval
        # verify set it from --embedding before embedding anything).
        self.embedding_method: EmbeddingMethod = DEFAULT_EMBEDDING
        self.segmenter = SelfieSegmenter(models_path)
        self.embedder_digest = hashlib.sha256(
            (models_path / "MobileFaceNet.tflite").read_bytes()
        ).digest()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> FaceEngine:
        require_models(settings.models_path, REQUIRED_MODELS)
        return cls(settings.models_path)

    def model_status(self) -> dict[str, object]:
        return {
            "status": "ready",
            "embedder": self.embedder.model_id,
            "files": list(REQUIRED_MODELS),
        }

    # -- stages -------------------------------------------------------------------------
    def find_faces(self, rgb: U8, mode: Mode) -> FaceSearch:
        """Selfie captures: short range plus full range for small background faces;
        third-party/ID images: full range, short range for tight close-ups. Uncertain
        detections on an animal are dropped (:mod:`faceproof.pipeline.face_check`) when
        that could change the main face or the multiple-faces flag; ``faces`` may therefore
        keep doubtful detections that were not checked."""
        size = (rgb.shape[1], rgb.shape[0])
        seen: dict[str, list[Detection]] = {}
        faces = self.detectors.detect(rgb, mode=mode, seen=seen)
        if doubt_matters(faces, size):
            faces = drop_animal_faces(
                rgb,
                faces,
                self.objects,
                ANIMALS,
                corroborate=lambda: self.detectors.detect_all(rgb, seen),
            )
        main, multiple = most_prominent(faces, size)
        return FaceSearch(faces, main, multiple)

    def landmarks(self, rgb: U8, detection: Detection, *, pose: bool = True) -> FaceRecord:
        """Mesh, iris and five points of a detected face; with ``pose``, its head pose too
        (matching reads only the five points and skips the PnP solve)."""
        record = self.landmark_stage.run(rgb, FaceRecord(detection=detection))
        if pose and record.landmarks is not None:
            record.pose = estimate_pose(record.landmarks.mesh, (rgb.shape[1], rgb.shape[0]))
        return record

    def analyse(
        self, rgb: U8, mode: Mode, *, pose: bool = True
    ) -> tuple[FaceRecord | None, FaceSearch]:
        search = self.find_faces(rgb, mode)
        if search.main is None:
            return None, search
        return self.landmarks(rgb, search.main, pose=pose), search

    def aligned112(self, rgb: U8, record: FaceRecord) -> U8:
        if record.five_points is None:
            raise ValueError("record has no five points")
        return similarity_align(rgb, record.five_points, 112)

    def embedding(self, rgb: U8, record: FaceRecord) -> F32:
        """L2-normalised embedding of the record's face by ``embedding_method`` (cached)."""
        return self.embeddings([(rgb, record)])[0]

    def embeddings(self, faces: Sequence[tuple[U8, FaceRecord]]) -> list[F32]:
        """Several faces' embeddings, the uncached ones in one embedder call (one inference
        per crop, two for flip averaging). Each is cached on its record."""
        todo = [(rgb, rec) for rgb, rec in faces if rec.embedding is None]
        if todo:
            crops = [self.aligned112(rgb, rec) for rgb, rec in todo]
            vectors = self.embedder.embed_faces(crops, self.embedding_method)
            for (_, rec), vector in zip(todo, vectors, strict=True):
                rec.embedding = vector
        return [rec.embedding for _, rec in faces if rec.embedding is not None]

    def person_mask(self, rgb: U8) -> PersonMask:
        return self.segmenter.person(rgb)
