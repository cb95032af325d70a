"""The liveness stage: passive score, levels, device and challenge checks, in one service.

Decision for an SDK capture (docs/liveness.md, "How the decision is made"):

1. A virtual/file camera or automated browser in the device report → ``insecure``
   (FEEDBACK_RETRY_INSECURE), whatever the image shows.
2. The **passive score** of the main frame: the fusion's liveness score (1 − P(attack)).
3. If the capture answers a **challenge** (or the deployment requires one), the challenge is
   a gate: any failed check (binding, order, timing, identity, splice, planarity) sets the
   combined score to 0, so no level is reached and the capture is a spoof. A passed
   challenge leaves the passive score as it is: the two defend against different attacks
   (texture of a screen or print vs. flat or pre-recorded footage) and both must hold.
4. ``as_highest_security_level_reached`` is the highest level whose threshold the combined
   score reaches; the capture is a spoof when the score is below the requested level's.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceproof.config import ConfigError, Settings
from faceproof.crypto.envelope import CapturePayload
from faceproof.errors import ApiError, Err, Problem, parse_level_name, problem
from faceproof.face.record import F32, U8, Detection, FaceRecord
from faceproof.liveness import challenge as chl
from faceproof.liveness import screen_light as sl
from faceproof.liveness.capture import SdkCapture
from faceproof.liveness.device import check_device
from faceproof.liveness.fusion import (
    FusionModel,
    PassiveModels,
    extract,
    load_fusion,
    needed_models,
)
from faceproof.liveness.geometry3d import photometric_residual, planarity
from faceproof.liveness.levels import (
    DEFAULT_LEVEL,
    LEVELS,
    LivenessCalibration,
    load_liveness_calibration,
)
from faceproof.liveness.minifasnet import MIN_CONTEXT, context
from faceproof.models.blazeface import most_prominent
from faceproof.models.store import load_manifest, require_models
from faceproof.pipeline.align import similarity_align
from faceproof.pipeline.engine import FaceEngine
from faceproof.pipeline.landmarks import five_points_from
from faceproof.pipeline.outputs import jpeg_b64

log = logging.getLogger(__name__)

# Quality reasons (LivenessResult.reasons of /face/as; docs/liveness.md).
TOO_LITTLE_CONTEXT = "too_little_context"
CONTEXT_MESSAGE = (
    "Too little of the picture around the face to judge liveness: send the whole camera "
    "frame, not a face crop (the face box at most about half the image height)"
)

# Capture quality good enough that a spoof verdict is not explained by a poor picture.
MIN_FACE_WIDTH_PX = 90
LUMA_RANGE = (45.0, 215.0)
MAX_CLIPPED = 0.15
MAX_YAW, MAX_PITCH = 30.0, 25.0


@dataclass
class LivenessResult:
    """What the endpoints need from the liveness stage."""

    is_spoof: bool
    insecure: bool
    level_reached: str | None
    score: float  # combined liveness score (the documented spoof_score/score), 1 = live
    quality_ok: bool
    threshold: str
    passive_score: float | None = None
    challenge: chl.ChallengeOutcome | None = None
    reasons: list[str] = field(default_factory=list)
    # "live" | "spoof" | "retry" | "insecure" (None: derived from the flags above)
    decision: str | None = None
    device_flags: list[str] = field(default_factory=list)


def parse_threshold(value: str | None, field_name: str = "/threshold") -> str:
    """The requested level: absent → default; otherwise the rule of every level field
    (faceproof.errors.parse_level_name: NONE → 501, unknown → 506)."""
    if value is None or not value.strip():
        return DEFAULT_LEVEL
    return parse_level_name(value, LEVELS, field_name, liveness=True)


def quality_ok(rgb: U8, record: FaceRecord | Detection) -> bool:
    """Is the face big, exposed and frontal enough, with enough of the picture around it,
    for a liveness verdict to be trusted?

    False tells the user to retake rather than calling them an attacker (reference:
    "quality" on a FEEDBACK_RETRY).
    """
    det = record.detection if isinstance(record, FaceRecord) else record
    if det.width < MIN_FACE_WIDTH_PX or not context_ok(rgb, det):
        return False
    x0, y0, x1, y1 = (round(v) for v in det.box)
    h, w = rgb.shape[:2]
    face = rgb[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    if face.size == 0:
        return False
    luma = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY)
    if not LUMA_RANGE[0] <= float(luma.mean()) <= LUMA_RANGE[1]:
        return False
    if float(np.mean((luma <= 5) | (luma >= 250))) > MAX_CLIPPED:
        return False
    pose = record.pose if isinstance(record, FaceRecord) else None
    return not (pose is not None and (abs(pose.yaw) > MAX_YAW or abs(pose.pitch) > MAX_PITCH))


def context_ok(rgb: U8, detection: Detection) -> bool:
    """Does the image hold enough context around the face for the MiniFASNet pair?

    The pair was trained on whole camera frames (windows 2.7× and 4× the face box); on a tight
    face crop its score is not a measurement (liveness/minifasnet.py, ``MIN_CONTEXT``).
    """
    h, w = rgb.shape[:2]
    return context((w, h), detection.box) >= MIN_CONTEXT


def challenge_face(engine: FaceEngine, rgb: U8) -> Detection | None:
    """The face of a challenge frame: the short-range detector's most prominent face, else
    (a far face under ~15 % of the frame width) the whole selfie search's main face.

    Selfie mode adds the full-range model's faces only where they overlap no short-range
    face (for the ``multiple_faces`` flag, which challenge frames do not report), so this is
    the face it picks unless the full-range model alone sees a second, more prominent face;
    the full-range inference (~4 ms, the larger part of a detection) is saved on the frames
    where the short-range model sees the face."""
    size = (rgb.shape[1], rgb.shape[0])
    main, _ = most_prominent(engine.detectors.short.detect(rgb), size)
    return main if main is not None else engine.find_faces(rgb, "selfie").main


def identity_embeddings(engine: FaceEngine, faces: list[tuple[U8, FaceRecord]]) -> list[F32]:
    """Embeddings for the identity check between a capture's frames: each face aligned by
    its mesh's eye outlines (the same rule for every frame, whether or not the iris model ran
    on it), plain (no mirror average), one crop per batch-1 inference (docs/liveness.md, "one
    identity")."""
    crops = []
    for rgb, rec in faces:
        if rec.landmarks is None:
            raise ValueError("identity needs the face mesh")
        crops.append(similarity_align(rgb, five_points_from(rec.landmarks.mesh), 112))
    return list(engine.embedder.embed_batch(crops))


class LivenessService:
    """Built once per worker; models load on first use so start-up stays fast."""

    def __init__(
        self,
        models_path: Path,
        fusion: FusionModel,
        calibration: LivenessCalibration,
        challenges: chl.ChallengeStore | None,
        *,
        require_challenge: bool = False,
        allow_emulated_camera: bool = False,
    ) -> None:
        if calibration.meta.get("fusion_sha256") not in (None, "", fusion.digest):
            raise ConfigError("liveness calibration was made for another fusion model")
        self.models_path = Path(models_path)
        self.fusion = fusion
        self.calibration = calibration
        self.challenges = challenges
        self.require_challenge = require_challenge
        self.allow_emulated_camera = allow_emulated_camera
        self._models: PassiveModels | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LivenessService:
        path = settings.models_path
        try:
            fusion, calibration = load_fusion(), load_liveness_calibration()
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"liveness parameters unreadable: {type(exc).__name__}") from None
        if settings.require_models:
            # Size and SHA-256 of every model file the fusion uses (the bundled MiniFASNet
            # pair included): a missing or altered file stops the server here.
            require_models(path, needed_models(fusion.features)[1])
        store = chl.open_challenge_store(settings)  # Redis when FACEPROOF_REDIS_URL is set
        if settings.allow_emulated_camera:
            # The level is also spelled out: at start-up this may run before logging is
            # configured, when the line reaches stderr as bare text (logging_setup re-reads it).
            log.warning(
                "WARNING: FACEPROOF_ALLOW_EMULATED_CAMERA is ON: virtual/emulated cameras and "
                "automated browsers are ACCEPTED (device flags reported, not fatal). For tests "
                "and development only - never in production."
            )
        return cls(
            path,
            fusion,
            calibration,
            store,
            require_challenge=settings.liveness_require_challenge,
            allow_emulated_camera=settings.allow_emulated_camera,
        )

    def close(self) -> None:
        if self.challenges is not None:
            self.challenges.close()

    def models(self) -> PassiveModels:
        with self._lock:
            if self._models is None:
                kinds, files = needed_models(self.fusion.features)
                manifest = load_manifest()
                missing = [
                    f for f in files if not manifest.entry(f).path(self.models_path).is_file()
                ]
                if missing:
                    raise ApiError(Err.SERVER_INTERNAL, "liveness models are not installed")
                self._models = PassiveModels(self.models_path, kinds)
            return self._models

    # -- passive ------------------------------------------------------------------------
    def raw_passive_score(self, rgb: U8, detection: Detection) -> float:
        """The fusion's liveness score whatever the image (for evaluation and logs)."""
        values = extract(rgb, detection, self.fusion.features, self.models())
        return self.fusion.liveness_score(values)

    def passive_score(self, rgb: U8, detection: Detection) -> float:
        """The passive liveness score (1 = live) that decisions use: 0 when the image holds
        too little context around the face to judge (a tight crop; see ``context_ok``)."""
        if not context_ok(rgb, detection):
            return 0.0
        return self.raw_passive_score(rgb, detection)

    def decide(self, score: float, threshold: str) -> tuple[bool, str | None]:
        """(is_spoof, highest level reached) for a combined score."""
        return not self.calibration.passes(score, threshold), self.calibration.highest_level(score)

    def evaluate_image(
        self,
        rgb: U8,
        record: FaceRecord | Detection,
        threshold: str = DEFAULT_LEVEL,
    ) -> LivenessResult:
        """Passive liveness of one face (third-party images, /face/as).

        An image with too little context around the face (a tight face crop) is not judged:
        401 FEEDBACK_RETRY with ``quality`` false and a message saying what to send instead.
        """
        det = record.detection if isinstance(record, FaceRecord) else record
        if not context_ok(rgb, det):
            log.info("liveness: not judged, %s", TOO_LITTLE_CONTEXT)
            raise ApiError(
                Err.FEEDBACK_RETRY,
                CONTEXT_MESSAGE,
                data={"image": jpeg_b64(rgb)},
                extra={"quality": False},
            )
        score = self.passive_score(rgb, det)
        spoof, level = self.decide(score, threshold)
        return LivenessResult(
            is_spoof=spoof,
            insecure=False,
            level_reached=level,
            score=score,
            quality_ok=quality_ok(rgb, record),
            threshold=threshold,
            passive_score=score,
        )

    # -- SDK captures -------------------------------------------------------------------
    def evaluate_capture(
        self,
        engine: FaceEngine | None,
        capture: SdkCapture,
        record: FaceRecord | None = None,
    ) -> LivenessResult:
        """The full decision for an SDK capture (module docstring). ``engine``: the
        worker's face models (None when not loaded: 500). ``record``: the main frame's face
        if the caller already analysed it (saves one landmark pass)."""
        payload = capture.payload
        threshold = parse_threshold(payload.options.asThreshold, "/options/asThreshold")
        if engine is None:
            raise ApiError(Err.SERVER_INTERNAL, "face models are not loaded")
        main = capture.main.rgb
        if record is None:
            record, _ = engine.analyse(main, "selfie")
        if record is None:
            raise problem(Problem.NO_FACE, "/file")
        q_ok = quality_ok(main, record)
        verdict = check_device(payload.device, allow_emulated=self.allow_emulated_camera)
        flags = list(verdict.flags)
        if verdict.insecure:
            return LivenessResult(
                True,
                True,
                None,
                0.0,
                q_ok,
                threshold,
                reasons=[f"insecure_device:{f}" for f in flags],
                decision="insecure",
                device_flags=flags,
            )
        passive = self.passive_score(main, record.detection)
        if payload.challenge is None and not self.require_challenge:
            spoof, level = self.decide(passive, threshold)
            return LivenessResult(
                spoof,
                False,
                level,
                passive,
                q_ok,
                threshold,
                passive,
                None,
                ["passive_below_level"] if spoof else [],
                "spoof" if spoof else "live",
                flags,
            )
        return self._challenge_decision(engine, capture, record, passive, q_ok, threshold, flags)

    def passive_floor(self) -> float:
        """The passive score a challenge-passing capture still needs (docs/liveness.md):
        ``calibration.sdk_passive_floor`` when the calibration has one, else LOW's threshold."""
        floor = getattr(self.calibration, "sdk_passive_floor", None)
        if isinstance(floor, int | float) and not isinstance(floor, bool):
            return float(floor)
        return float(self.calibration.thresholds["LOW"])

    def _challenge_decision(
        self,
        engine: FaceEngine,
        capture: SdkCapture,
        record: FaceRecord,
        passive: float,
        q_ok: bool,
        threshold: str,
        flags: list[str],
    ) -> LivenessResult:
        """A challenge capture is live iff every challenge check passes (move closer into the
        ovals, 3-D, screen light) and the passive score reaches the floor. Then the level
        reported is what the passive score reaches and ``score`` is the passive score;
        otherwise no level, score 0. Failures that conditions explain (too little light, the
        face not found or not brought into the oval) ask for a retry (``quality`` false)."""
        outcome = self.verify_challenge(engine, capture, main_record=record)
        reasons = list(outcome.reasons)
        if passive < self.passive_floor():
            reasons.append("passive_below_floor")
        if reasons:
            retry = all(r in chl.RETRY_REASONS for r in reasons)
            result = LivenessResult(
                True,
                False,
                None,
                0.0,
                q_ok and not retry,
                threshold,
                passive,
                outcome,
                reasons,
                "retry" if retry else "spoof",
                flags,
            )
        else:
            level = self.calibration.highest_level(passive)
            result = LivenessResult(
                False, False, level, passive, q_ok, threshold, passive, outcome, [], "live", flags
            )
        log.info(
            "liveness decision: %s level=%s challenge=%s reasons=%s",
            result.decision,
            result.level_reached,
            outcome.passed,
            ",".join(reasons),
        )
        return result

    def verify_challenge(
        self,
        engine: FaceEngine,
        capture: SdkCapture,
        now_ms: int | None = None,
        main_record: FaceRecord | None = None,
    ) -> chl.ChallengeOutcome:
        """All challenge checks; every failure is listed, any one fails it. ``main_record``:
        the face of ``capture.frames[0]`` if the caller already analysed it."""
        payload: CapturePayload = capture.payload
        if self.challenges is None:
            return chl.ChallengeOutcome(False, ["challenges_unavailable"])
        ch, reasons = chl.check_binding(self.challenges, payload, now_ms)
        if ch is None:
            return chl.ChallengeOutcome(False, reasons)
        out = chl.ChallengeOutcome(False, reasons)
        # Frames must come from one capture: same size, same JPEG encoder tables.
        sizes = {(f.width, f.height) for f in capture.frames}
        tables = [chl.jpeg_tables(f.data) for f in payload.frames]
        if len(sizes) != 1 or any(t != tables[0] for t in tables[1:]):
            out.reasons.append("frames_spliced")
        light_idx, light_reasons = chl.light_frame_indices(ch, payload)
        out.reasons.extend(r for r in light_reasons if r not in out.reasons)
        idx = {r: [i for i, f in enumerate(payload.frames) if f.role == r] for r in chl.ROLES}
        if not all(1 <= len(v) <= chl.MAX_FRAMES_PER_ROLE for v in idx.values()):
            out.reasons.append("challenge_frames_missing")
            return out
        records = self._frame_records(engine, capture, main_record)
        if records is None:
            out.reasons.append("no_face_in_frame")
            return out
        # Each far/near face inside its step's oval (contract §2).
        for role in chl.ROLES:
            step = ch.step(role)
            for i in idx[role]:
                f = capture.frames[i]
                inside = step is None or step.oval.contains(
                    records[i].detection.box, (f.width, f.height), ch.tolerance
                )
                out.in_oval.append(inside)
        if not all(out.in_oval):
            out.reasons.append("face_not_in_oval")
        # Every far × near pair; medians damp the landmark model's per-frame jitter.
        stats, ratios, photo = [], [], []
        for i in idx["far"]:
            for j in idx["near"]:
                fa, fb = capture.frames[i], capture.frames[j]
                mesh_i = records[i].landmarks.mesh  # type: ignore[union-attr]
                mesh_j = records[j].landmarks.mesh  # type: ignore[union-attr]
                geo = planarity(mesh_i, mesh_j, (fa.width, fa.height))
                stats.append(geo.statistic if math.isfinite(geo.statistic) else -10.0)
                ratios.append(geo.scale_ratio)
                photo.append(photometric_residual(fa.rgb, mesh_i, fb.rgb, mesh_j))
        out.planarity, out.scale_ratio = float(np.median(stats)), float(np.median(ratios))
        out.photometric = float(np.median(photo))
        if not chl.strength_ok(out.scale_ratio):
            out.reasons.append("not_closer_enough")
        if out.planarity < chl.PLANARITY_MIN or out.photometric < chl.PHOTOMETRIC_MIN:
            out.reasons.append("planar_motion")
        embs = identity_embeddings(engine, [(capture.frames[i].rgb, r) for i, r in records.items()])
        sims = [chl.cosine(a, b) for k, a in enumerate(embs) for b in embs[k + 1 :]]
        out.min_identity = min(sims) if sims else 1.0
        if out.min_identity < chl.IDENTITY_MIN:
            out.reasons.append("identity_changed")
        # Screen light: one measure per colour, in order.
        if ch.light is not None and light_idx is not None:
            lights = []
            for i in light_idx:
                rec = records[i]
                mesh = rec.landmarks.mesh  # type: ignore[union-attr]
                lights.append(sl.measure_frame(capture.frames[i].rgb, mesh, rec.detection.box))
            if any(m is None for m in lights):
                out.light = sl.LightOutcome(False, ["light_too_weak"])
            else:
                out.light = sl.judge([m for m in lights if m is not None], ch.light)
            out.reasons.extend(r for r in out.light.reasons if r not in out.reasons)
        elif ch.light is not None:
            out.light = sl.LightOutcome(False, ["light_frames_missing"])
        out.passed = not out.reasons
        return out

    @staticmethod
    def _frame_records(
        engine: FaceEngine, capture: SdkCapture, main_record: FaceRecord | None
    ) -> dict[int, FaceRecord] | None:
        """The face of every frame, or None when a frame shows none.

        What each frame is used for decides what is computed (docs/liveness.md, "Cost of a
        challenge capture"): far and near frames are detected (:func:`challenge_face`; their
        boxes are judged against the ovals in the detector's convention) and meshed in two
        passes (3-D checks); a light
        frame follows the frame before it, so its face is tracked from that frame's mesh in
        one mesh pass, as MediaPipe's face-mesh graph does between detections; it is
        detected like the others when the mesh model loses the face. No frame needs the iris
        (the identity check aligns every frame by the mesh's eye outlines) or the head pose.
        """
        roles = [f.role for f in capture.payload.frames]
        stage = engine.landmark_stage
        records: dict[int, FaceRecord] = {}
        for i, frame in enumerate(capture.frames):
            rec = main_record if i == 0 else None
            if rec is None and roles[i] == chl.LIGHT_ROLE and i - 1 in records:
                rec = stage.track(frame.rgb, records[i - 1])
            if rec is None:
                found = challenge_face(engine, frame.rgb)
                if found is None:
                    return None
                rec = stage.run(frame.rgb, FaceRecord(detection=found), iris=False)
            if rec.landmarks is None:
                return None
            records[i] = rec
        return records

    def issue_challenge(self, now_ms: int | None = None) -> chl.Challenge:
        if self.challenges is None:
            raise ApiError(Err.SERVER_INTERNAL, "challenges unavailable")
        return self.challenges.issue(int(time.time() * 1000) if now_ms is None else now_ms)
