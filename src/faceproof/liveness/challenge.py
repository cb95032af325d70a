"""Challenge-bound liveness for SDK captures (protocol v2): "move closer" into random ovals,
then "screen light" — the contract is /work/coord/challenge-protocol.md, documented in
docs/liveness.md.

1. ``POST /api/v1/challenge`` issues a challenge: a random id, a fresh envelope nonce, an
   expiry (``TTL_MS`` ≤ 2 min), the order of two target distances (``far``/``near``), and
   for each distance an oval drawn at random (centre anywhere a face fits in 640×480; far
   small, near at least 1.7× taller), a random hold time, a step timeout, the oval
   tolerance, and a random screen-colour sequence (:mod:`faceproof.liveness.screen_light`).
   It is stored server-side: SQLite in the data dir (shared by the host's workers) or, for
   several replicas, Redis (``FACEPROOF_REDIS_URL``); see :func:`open_challenge_store`.
2. The SDK guides the user into each oval, runs the colour sequence while the near oval is
   held, seals the frames (roles ``main``, ``far``, ``near``, ``light``, times ``t``) in an
   envelope whose ``nonce`` is the challenge's and whose ``challenge`` is
   ``{"id", "light_start_t"}``.
3. The server claims the challenge (single use, atomically — a second use fails even from
   another worker), then checks the answer: binding and freshness, roles in the issued
   order, plausible timing (steps, holds, colour windows), frames from one encoder, every
   far/near face inside its oval, the scale change, one identity, 3-D motion
   (:mod:`faceproof.liveness.geometry3d`) and the screen light.

What a pre-recorded video cannot know is what is drawn per session, after it was recorded:
where and how large each oval is, how long each hold is, and the
colour sequence. The order of the two distances is shown to the client like everything
else, so it adds nothing against a replay that is adapted in real time.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PIL import Image

from faceproof.crypto.envelope import CapturePayload, new_nonce
from faceproof.liveness import screen_light as sl
from faceproof.storage import redis_client
from faceproof.storage.sqlite_file import ProcessLocalSqlite

if TYPE_CHECKING:
    import redis

    from faceproof.config import Settings

TTL_MS = 120_000  # a challenge must be answered within 2 minutes of issue
CLOCK_SKEW_MS = 5_000  # tolerance between the SDK's corrected clock and ours
MIN_STEP_MS = 200  # the two poses cannot be a fraction of a second apart: a human moves
MAX_STEP_MS = 20_000  # ... nor further apart than a guided capture takes
MIN_SCALE_RATIO = 1.2  # near/far inter-ocular distance: enough perspective change to judge
# 3-D evidence (docs/liveness.md): the rigid-face model must explain the landmarks' motion at
# least as well as a plane (log(e_plane / e_rigid) >= 0) AND the face region must not align
# under a homography (photometric residual; `python bench/bench_geometry3d.py`: plane renders
# <= 0.0047, real far/near pairs of the live clip >= 0.039).
PLANARITY_MIN = 0.0
PHOTOMETRIC_MIN = 0.02
IDENTITY_MIN = 0.35  # cosine similarity of the embeddings of any two frames of the capture
ROLES = ("far", "near")
LIGHT_ROLE = "light"
MAX_FRAMES_PER_ROLE = 4
TYPE = "move_closer+screen_light"

# Ovals, in fractions of the frame (camera frame, unmirrored; 640×480 for the SDK). h is
# the oval's height over the frame height; the face box (BlazeFace) should be ~0.65 of it.
FRAME_W, FRAME_H = 640, 480
FAR_H = (0.34, 0.42)
NEAR_H = (0.66, 0.78)
NEAR_OVER_FAR = 1.7  # near.h / far.h at least (the contract's floor is 1.45)
OVAL_ASPECT = 0.78  # width / height of the drawn oval (used to keep it inside the frame)
CENTRE_X = (0.25, 0.75)
CENTRE_Y = (0.30, 0.70)
TOLERANCE = {"center": 0.10, "size_min": 0.52, "size_max": 0.78}
HOLD_MS = (300, 1200)
STEP_TIMEOUT_MS = (8_000, 12_000)
HOLD_SLACK_MS = 50  # timer jitter between the SDK's hold and its frame timestamps


@dataclass(frozen=True)
class Oval:
    cx: float
    cy: float
    h: float

    def public(self) -> dict[str, float]:
        return {"cx": self.cx, "cy": self.cy, "h": self.h}

    def contains(
        self, box: tuple[float, float, float, float], size: tuple[int, int], tol: dict[str, float]
    ) -> bool:
        """The contract's §2 test for a face box in a frame of ``size`` = (W, H)."""
        w, h = size
        bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        bh = box[3] - box[1]
        ratio = bh / (self.h * h)
        return (
            abs(bx - self.cx * w) <= tol["center"] * h
            and abs(by - self.cy * h) <= tol["center"] * h
            and tol["size_min"] <= ratio <= tol["size_max"]
        )


@dataclass(frozen=True)
class Step:
    role: str
    oval: Oval
    hold_ms: int

    def public(self) -> dict[str, Any]:
        return {"role": self.role, "oval": self.oval.public(), "hold_ms": self.hold_ms}


@dataclass(frozen=True)
class Challenge:
    id: str
    nonce: str
    issued_ms: int
    expires_ms: int
    order: tuple[str, str]
    steps: tuple[Step, ...] = ()
    step_timeout_ms: int = STEP_TIMEOUT_MS[1]
    light: sl.LightSequence | None = None
    tolerance: dict[str, float] = field(default_factory=lambda: dict(TOLERANCE))

    def public(self) -> dict[str, Any]:
        """What the SDK gets (documented in OpenAPI through the router's response model)."""
        return {
            "id": self.id,
            "nonce": self.nonce,
            "type": TYPE,
            "order": list(self.order),
            "issued_at_ms": self.issued_ms,
            "expires_at_ms": self.expires_ms,
            "min_scale_ratio": MIN_SCALE_RATIO,
            "min_step_ms": MIN_STEP_MS,
            "max_step_ms": MAX_STEP_MS,
            "steps": [s.public() for s in self.steps],
            "oval_tolerance": dict(self.tolerance),
            "step_timeout_ms": self.step_timeout_ms,
            "light": None if self.light is None else self.light.public(),
        }

    def params(self) -> dict[str, Any]:
        """The stored form (everything but id, nonce and times)."""
        p = self.public()
        return {k: p[k] for k in ("order", "steps", "oval_tolerance", "step_timeout_ms", "light")}

    @classmethod
    def from_row(
        cls, cid: str, nonce: str, params: dict[str, Any], issued: int, expires: int
    ) -> Challenge:
        order = params["order"]
        steps = tuple(
            Step(s["role"], Oval(**s["oval"]), int(s["hold_ms"])) for s in params.get("steps", [])
        )
        light = params.get("light")
        return cls(
            cid,
            nonce,
            issued,
            expires,
            (order[0], order[1]),
            steps,
            int(params.get("step_timeout_ms", STEP_TIMEOUT_MS[1])),
            None if light is None else sl.LightSequence.from_public(light),
            dict(params.get("oval_tolerance", TOLERANCE)),
        )

    def step(self, role: str) -> Step | None:
        return next((s for s in self.steps if s.role == role), None)


def _uniform(rng: secrets.SystemRandom, lo: float, hi: float) -> float:
    return round(rng.uniform(lo, hi), 4)


def draw_oval(rng: secrets.SystemRandom, h: float) -> Oval:
    """A centre where the whole oval (height h·H, width OVAL_ASPECT·h·H) fits in the frame."""
    half_w = OVAL_ASPECT * h * FRAME_H / 2 / FRAME_W
    x_lo, x_hi = max(CENTRE_X[0], half_w + 0.01), min(CENTRE_X[1], 1 - half_w - 0.01)
    y_lo, y_hi = max(CENTRE_Y[0], h / 2 + 0.01), min(CENTRE_Y[1], 1 - h / 2 - 0.01)
    return Oval(_uniform(rng, x_lo, x_hi), _uniform(rng, y_lo, y_hi), h)


def draw_challenge(now_ms: int, ttl_ms: int, rng: secrets.SystemRandom | None = None) -> Challenge:
    rng = rng or secrets.SystemRandom()
    order: tuple[str, str] = ("far", "near") if rng.randrange(2) == 0 else ("near", "far")
    far_h = _uniform(rng, *FAR_H)
    near_h = _uniform(rng, max(NEAR_H[0], NEAR_OVER_FAR * far_h), NEAR_H[1])
    heights = {"far": far_h, "near": near_h}
    steps = tuple(
        Step(role, draw_oval(rng, heights[role]), rng.randint(*HOLD_MS)) for role in order
    )
    return Challenge(
        secrets.token_urlsafe(18),
        new_nonce(),
        now_ms,
        now_ms + ttl_ms,
        order,
        steps,
        rng.randint(*STEP_TIMEOUT_MS),
        sl.draw_sequence(rng),
    )


class ChallengeStore(Protocol):
    """Issued challenges; :meth:`claim` succeeds once per challenge, across all workers."""

    ttl_ms: int

    def issue(self, now_ms: int | None = None) -> Challenge:
        """Draws a challenge and stores it until it expires."""
        ...

    def claim(self, challenge_id: str) -> Challenge | None:
        """The challenge if it exists and was never claimed, marked used (atomically).

        An expired challenge is still returned for a while (``check_binding`` then names
        it expired rather than unknown)."""
        ...

    def health(self) -> str | None:
        """None when the store can answer now, else a short reason (``/face_health``)."""
        ...

    def close(self) -> None: ...


class SqliteChallengeStore:
    """Issued challenges in one SQLite file; claiming is atomic across worker processes."""

    def __init__(self, path: Path, ttl_ms: int = TTL_MS) -> None:
        self.path = Path(path)
        self.ttl_ms = min(ttl_ms, TTL_MS)
        self._lock = threading.Lock()
        self._db = ProcessLocalSqlite(
            self.path,
            (
                "CREATE TABLE IF NOT EXISTS challenges (id TEXT PRIMARY KEY, nonce TEXT NOT NULL,"
                " params TEXT NOT NULL, issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
                " used INTEGER NOT NULL DEFAULT 0)",
            ),
            synchronous="FULL",
        )

    def _connection(self) -> sqlite3.Connection:
        return self._db.connection()

    def issue(self, now_ms: int | None = None) -> Challenge:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        ch = draw_challenge(now, self.ttl_ms)
        with self._lock:
            conn = self._connection()
            conn.execute("DELETE FROM challenges WHERE expires_ms < ?", (now - self.ttl_ms,))
            conn.execute(
                "INSERT INTO challenges (id, nonce, params, issued_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (ch.id, ch.nonce, json.dumps(ch.params()), now, ch.expires_ms),
            )
        return ch

    def claim(self, challenge_id: str) -> Challenge | None:
        """The challenge if it exists and was never claimed; marks it used (atomically)."""
        with self._lock:
            conn = self._connection()
            cur = conn.execute(
                "UPDATE challenges SET used = 1 WHERE id = ? AND used = 0", (challenge_id,)
            )
            if cur.rowcount != 1:
                return None
            row = conn.execute(
                "SELECT id, nonce, params, issued_ms, expires_ms FROM challenges WHERE id = ?",
                (challenge_id,),
            ).fetchone()
        if row is None:
            return None
        return Challenge.from_row(row[0], row[1], json.loads(row[2]), int(row[3]), int(row[4]))

    def health(self) -> str | None:
        try:
            with self._lock:
                self._connection().execute("SELECT 1 FROM challenges LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            return f"challenge store unavailable ({type(exc).__name__})"
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisChallengeStore:
    """Issued challenges in Redis, shared by every replica.

    ``issue`` writes ``faceproof:challenge:<id>`` (JSON) with ``SET NX`` and an expiry of two
    TTLs (an expired challenge stays claimable long enough to be reported as expired, as in
    SQLite); ``claim`` is ``GETDEL``, atomic in Redis, so of any number of concurrent claims
    on any replicas exactly one gets the challenge and the rest get None.
    """

    def __init__(self, client: redis.Redis, ttl_ms: int = TTL_MS) -> None:
        self.client = client
        self.ttl_ms = min(ttl_ms, TTL_MS)

    @staticmethod
    def _key(challenge_id: str) -> str:
        return redis_client.key("challenge", challenge_id)

    def issue(self, now_ms: int | None = None) -> Challenge:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        ch = draw_challenge(now, self.ttl_ms)
        record = json.dumps(
            {"nonce": ch.nonce, "params": ch.params(), "issued": now, "expires": ch.expires_ms}
        )
        if not self.client.set(self._key(ch.id), record, nx=True, px=2 * self.ttl_ms):
            raise RuntimeError("challenge id collision")  # 144 random bits: never in practice
        return ch

    def claim(self, challenge_id: str) -> Challenge | None:
        if not challenge_id or len(challenge_id) > 64:
            return None
        raw = self.client.getdel(self._key(challenge_id))
        if raw is None:
            return None
        rec = json.loads(raw)
        return Challenge.from_row(
            challenge_id, rec["nonce"], rec["params"], int(rec["issued"]), int(rec["expires"])
        )

    def health(self) -> str | None:
        return redis_client.health(self.client)

    def close(self) -> None:
        """The client is shared by the process's stores (redis_client.close_all)."""


def open_challenge_store(settings: Settings) -> ChallengeStore:
    """Redis when ``FACEPROOF_REDIS_URL`` is set, else ``<data_dir>/challenges.sqlite3``."""
    if settings.redis_url and settings.redis_url.strip():
        return RedisChallengeStore(redis_client.shared_redis(settings.redis_url))
    return SqliteChallengeStore(settings.data_dir / "challenges.sqlite3")


@dataclass
class ChallengeOutcome:
    """The verdict on a challenge answer, with the measurements behind it."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    planarity: float | None = None
    photometric: float | None = None
    scale_ratio: float | None = None
    min_identity: float | None = None
    in_oval: list[bool] = field(default_factory=list)
    light: sl.LightOutcome | None = None

    @property
    def move_closer_passed(self) -> bool:
        measured = self.scale_ratio is not None
        return measured and not any(r in MOVE_CLOSER_REASONS for r in self.reasons)

    def public(self) -> dict[str, Any]:
        """The contract's ``liveness.challenge`` block."""

        def r(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), 4)

        light = self.light.public() if self.light is not None else None
        if light is None:
            light = {
                "passed": False,
                "statistic": None,
                "threshold": sl.MIN_STATISTIC,
                "p_value": None,
                "contrast": None,
                "min_contrast": sl.MIN_CONTRAST,
            }
        return {
            "passed": self.passed,
            "move_closer": {
                "passed": self.move_closer_passed,
                "scale_ratio": r(self.scale_ratio),
                "planarity": r(self.planarity),
                "photometric": r(self.photometric),
                "min_identity": r(self.min_identity),
                "in_oval": list(self.in_oval),
            },
            "screen_light": light,
        }


# Failed checks that belong to the move-closer part (the rest: binding, timing, light).
MOVE_CLOSER_REASONS = frozenset(
    {
        "wrong_order",
        "challenge_frames_missing",
        "no_face_in_frame",
        "face_not_in_oval",
        "not_closer_enough",
        "planar_motion",
        "identity_changed",
    }
)


def check_binding(
    store: ChallengeStore, payload: CapturePayload, now_ms: int | None = None
) -> tuple[Challenge | None, list[str]]:
    """Claim the payload's challenge and check nonce binding, freshness and frame timing.

    Returns the challenge (None when it cannot be used at all) and the failed checks.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    info = payload.challenge or {}
    cid = info.get("id")
    if not isinstance(cid, str) or not cid:
        return None, ["challenge_missing"]
    ch = store.claim(cid)
    if ch is None:
        return None, ["challenge_unknown_or_used"]
    reasons: list[str] = []
    if payload.nonce != ch.nonce:
        reasons.append("nonce_not_bound")
    if now > ch.expires_ms + CLOCK_SKEW_MS:
        reasons.append("challenge_expired")
    frames = payload.frames
    last_t = max(f.t for f in frames)
    first_ms = payload.ts - last_t  # the SDK stamps the envelope after its last frame
    if first_ms < ch.issued_ms - CLOCK_SKEW_MS or payload.ts > ch.expires_ms + CLOCK_SKEW_MS:
        reasons.append("frames_outside_challenge_window")
    marked = [(f.role, f.t) for f in frames if f.role in ROLES]
    runs = [role for role, _ in itertools.groupby(r for r, _ in marked)]
    if tuple(runs) != ch.order:
        reasons.append("wrong_order")
    else:
        first = [t for r, t in marked if r == ch.order[0]]
        second = [t for r, t in marked if r == ch.order[1]]
        step = min(second) - max(first)
        if not MIN_STEP_MS <= step <= MAX_STEP_MS or not holds_ok(ch, payload):
            reasons.append("implausible_timing")
    all_t = [f.t for f in frames]
    if any(b <= a for a, b in itertools.pairwise(all_t)):
        reasons.append("frames_not_in_time_order")
    return ch, reasons


def holds_ok(ch: Challenge, payload: CapturePayload) -> bool:
    """Each step's first frame comes at least its hold time after the frame before it (the
    SDK draws the oval after that frame, waits for the face, then holds)."""
    frames = payload.frames
    for step in ch.steps:
        idx = next((i for i, f in enumerate(frames) if f.role == step.role), None)
        if idx is None or idx == 0:
            continue
        if frames[idx].t - frames[idx - 1].t < step.hold_ms - HOLD_SLACK_MS:
            return False
    return True


def light_frame_indices(
    ch: Challenge, payload: CapturePayload
) -> tuple[list[int] | None, list[str]]:
    """The light frames, one per colour in order, and the failed light-timing checks.

    Contract §3: exactly one frame with role "light" per colour, at a ``t`` inside
    [start_k + settle·ms_k, start_k + ms_k) where start_k = light_start_t + Σ_{j<k} ms_j; the
    sequence starts after the near step's frames, and the light frames follow them.
    """
    seq = ch.light
    if seq is None:
        return None, []
    frames = payload.frames
    idx = [i for i, f in enumerate(frames) if f.role == LIGHT_ROLE]
    start = (payload.challenge or {}).get("light_start_t")
    if len(idx) != len(seq.colors) or not isinstance(start, int) or isinstance(start, bool):
        return None, ["light_frames_missing"]
    near = [i for i, f in enumerate(frames) if f.role == "near"]
    contiguous = idx == list(range(idx[0], idx[0] + len(idx)))
    after_near = bool(near) and idx[0] == near[-1] + 1 and start >= frames[near[-1]].t
    in_windows = all(
        lo <= frames[i].t < hi for i, (lo, hi) in zip(idx, seq.windows(start), strict=True)
    )
    if not (contiguous and after_near and in_windows):
        return idx, ["implausible_timing"]
    return idx, []


def jpeg_tables(data: bytes) -> Any:
    """The JPEG quantisation tables of an image file (None for non-JPEG): an encoder trait."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            q = getattr(im, "quantization", None)
            return None if not q else {k: list(v) for k, v in q.items()}
    except Exception:
        return None


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def strength_ok(scale_ratio: float) -> bool:
    return scale_ratio >= MIN_SCALE_RATIO and math.isfinite(scale_ratio)


# Failures that capture conditions explain rather than an attack: the answer asks for a
# retry (FEEDBACK_RETRY with quality false) — never an acceptance.
RETRY_REASONS = frozenset({"light_too_weak", "no_face_in_frame", "face_not_in_oval"})
