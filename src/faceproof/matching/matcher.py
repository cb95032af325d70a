"""1:1 matching: two images → embeddings → cosine similarity → calibrated levels.

The decision is only ever ``similarity >= threshold(kind, level)`` with thresholds from the
calibration file; ``score`` (a distance, 1 − cosine, closer to 0 = same person) and
``similarityScore`` (0–100, anchored to FARs) are reports of the same similarity.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from faceproof.config import ConfigError, Settings
from faceproof.errors import Problem, problem
from faceproof.face.record import F32, U8
from faceproof.matching.calibration import MatchCalibration, load_match_calibration
from faceproof.matching.levels import LEVELS, NONE, Kind, rank
from faceproof.models.mobilefacenet import require_server_embedding
from faceproof.models.store import sha256_file

if TYPE_CHECKING:
    from faceproof.pipeline.engine import FaceEngine

EMBEDDER_FILE = "MobileFaceNet.tflite"
Mode = Literal["selfie", "document"]


@dataclass(frozen=True)
class Decision:
    similarity: float  # cosine of the two embeddings
    score: float  # distance: 1 - cosine, in [0, 2]
    similarity_score: int  # 0..100 through the documented anchors
    level_requested: str
    level_reached: str  # highest level met, or NONE
    possible_match: bool  # the requested level is met


@dataclass(frozen=True)
class MatchResult:
    decision: Decision
    multiple_faces_a: bool
    multiple_faces_b: bool

    def body(self, *, id_reference: bool = False) -> dict[str, Any]:
        """The documented response fields after code/feedbackCode/refid.

        ``id_reference``: the second image is an ID portrait, which the reference never flags
        as multi-face, so /matchWithPictureId answers ``multipleFacesImage`` only.
        """
        d = self.decision
        out: dict[str, Any] = {
            "score": d.score,
            "similarityScore": d.similarity_score,
            "possibleMatch": d.possible_match,
            "multipleFacesImage": self.multiple_faces_a,
        }
        if not id_reference:
            out["multipleFacesImageToVerifyAgainst"] = self.multiple_faces_b
        out["matchHighestSecurityLevelReached"] = d.level_reached
        return out


@dataclass
class Embedded:
    vector: F32
    multiple: bool


class Matcher:
    def __init__(self, calibration: MatchCalibration, helpers: int | None = None) -> None:
        self.calibration = calibration
        self._maps = {k: c.similarity_map() for k, c in calibration.kinds.items()}
        # The two images of a request are analysed side by side when a helper thread is
        # free (halves latency on an idle multi-core box); never queued behind other
        # requests' work, so a busy server degrades to the plain sequential path.
        n = helpers if helpers is not None else min(4, os.cpu_count() or 1) - 1
        self._slots = threading.BoundedSemaphore(max(n, 1))
        self._helpers = max(n, 0)
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Matcher:
        """The shipped (or configured) calibration, checked against the installed embedder."""
        path = settings.match_calibration_path
        calibration = load_match_calibration(Path(path) if path else None)
        model_file = settings.models_path / EMBEDDER_FILE
        expected = calibration.model.get("sha256")
        if settings.require_models and model_file.is_file() and expected:
            actual = sha256_file(model_file)
            if actual != expected:
                raise ConfigError(
                    f"match calibration was made for embedder sha256 {expected[:12]}…, "
                    f"installed {EMBEDDER_FILE} is {actual[:12]}…: run `faceproof calibrate`"
                )
        require_server_embedding(
            calibration.model, "match", "run `faceproof calibrate` (docs/matching.md)"
        )
        return cls(calibration)

    # -- decisions ----------------------------------------------------------------------
    def level_reached(self, similarity: float, kind: Kind) -> str:
        cal = self.calibration.kinds[kind]
        reached = NONE
        for level in LEVELS:
            if similarity >= cal.threshold(level):
                reached = level
        return reached

    def decide(self, similarity: float, kind: Kind, level: str) -> Decision:
        """The documented outputs of one comparison; ``level`` must be a valid level."""
        s = float(np.clip(similarity, -1.0, 1.0))
        reached = self.level_reached(s, kind)
        return Decision(
            similarity=s,
            score=round(1.0 - s, 7),
            similarity_score=self._maps[kind](s),
            level_requested=level,
            level_reached=reached,
            possible_match=rank(reached) >= rank(level),
        )

    # -- images -------------------------------------------------------------------------
    @staticmethod
    def embed(engine: FaceEngine, rgb: U8, mode: Mode) -> Embedded | None:
        """The most prominent face's embedding, or None when there is no usable face.
        The answer reads no head pose, so none is estimated."""
        record, search = engine.analyse(rgb, mode=mode, pose=False)
        if record is None or record.five_points is None:
            return None
        return Embedded(engine.embedding(rgb, record), search.multiple)

    def _embed_both(
        self, engine: FaceEngine, rgb_a: U8, rgb_b: U8, mode_b: Mode
    ) -> tuple[Embedded | None, Embedded | None]:
        if self._helpers == 0 or not self._slots.acquire(blocking=False):
            return self.embed(engine, rgb_a, "selfie"), self.embed(engine, rgb_b, mode_b)
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._helpers, thread_name_prefix="match")
            future = self._pool.submit(self.embed, engine, rgb_b, mode_b)
            try:
                a = self.embed(engine, rgb_a, "selfie")
            finally:
                wait([future])  # the slot is only free once the helper is done
            return a, future.result()
        finally:
            self._slots.release()

    def compare(
        self,
        engine: FaceEngine,
        rgb_a: U8,
        rgb_b: U8,
        kind: Kind,
        level: str,
        fields: tuple[str, str] = ("/image/template", "/imageToVerifyAgainst/template"),
    ) -> MatchResult:
        """Match selfie ``rgb_a`` against ``rgb_b`` (a selfie, or an ID portrait for "id").

        Raises ``ERROR_INVALID_IMAGE`` (Problem.NO_FACE) for the first image
        without a face, ``fields`` naming the two inputs as the endpoint calls them.
        """
        a, b = self._embed_both(engine, rgb_a, rgb_b, "selfie" if kind == "selfie" else "document")
        if a is None:
            raise problem(Problem.NO_FACE, fields[0])
        if b is None:
            raise problem(Problem.NO_FACE, fields[1])
        return self.compare_embedded(a, b, kind, level)

    def compare_embedded(self, a: Embedded, b: Embedded, kind: Kind, level: str) -> MatchResult:
        """The decision for two already embedded faces."""
        similarity = float(np.dot(a.vector, b.vector))
        return MatchResult(self.decide(similarity, kind, level), a.multiple, b.multiple)
