"""Challenge-bound liveness for SDK captures: "move closer" in a server-chosen order.

Protocol (docs/liveness.md):

1. ``POST /api/v1/challenge`` issues a challenge: a random id, a fresh envelope nonce, an
   expiry (``TTL_MS`` ≤ 2 min) and the order of two target distances (``["far", "near"]`` or
   ``["near", "far"]``, drawn at random). It is stored server-side (SQLite in the data dir,
   shared by all workers).
2. The SDK guides the user through the two distances, seals the frames in an envelope whose
   ``nonce`` is the challenge's nonce and whose ``challenge`` is ``{"id": <id>}``, each
   challenge frame with ``role`` "far" or "near" (one to ``MAX_FRAMES_PER_ROLE`` frames per
   distance, all of one distance before the other) and its capture time ``t``.
3. The server claims the challenge (single use, atomically — a second use fails even from
   another worker), then checks the answer: roles in the issued order, plausible timing
   inside the challenge's lifetime, the scale change in the right direction, one identity
   in every frame, frames from one encoder (no splice), and that the face moved like a
   rigid 3-D object rather than a plane (:mod:`faceproof.liveness.geometry3d`).

Replays are refused twice over: the envelope nonce is single-use (crypto.replay) and so is
the challenge. A recorded video of someone moving closer cannot know the order drawn for
this session; the order check makes a replay pass only by chance (1/2), and the passive
score must pass as well.
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
from typing import Any

import numpy as np

from faceproof.crypto.envelope import CapturePayload, new_nonce
from faceproof.storage.sqlite_file import ProcessLocalSqlite

TTL_MS = 120_000  # a challenge must be answered within 2 minutes of issue
CLOCK_SKEW_MS = 5_000  # tolerance between the SDK's corrected clock and ours
MIN_STEP_MS = 200  # the two poses cannot be a fraction of a second apart: a human moves
MAX_STEP_MS = 20_000  # ... nor further apart than a guided capture takes
MIN_SCALE_RATIO = 1.2  # near/far inter-ocular distance: enough perspective change to judge
# 3-D evidence (docs/liveness.md): the rigid-face model must explain the landmarks' motion at
# least as well as a plane (log(e_plane / e_rigid) >= 0) AND the face region must not align
# under a homography (photometric residual; planes in the dev renders <= 0.002, real
# far/near pairs >= 0.067).
PLANARITY_MIN = 0.0
PHOTOMETRIC_MIN = 0.02
IDENTITY_MIN = 0.35  # cosine similarity of the embeddings of any two frames of the capture
ROLES = ("far", "near")
MAX_FRAMES_PER_ROLE = 4


@dataclass(frozen=True)
class Challenge:
    id: str
    nonce: str
    issued_ms: int
    expires_ms: int
    order: tuple[str, str]

    def public(self) -> dict[str, Any]:
        """What the SDK gets (documented in OpenAPI through the router's response model)."""
        return {
            "id": self.id,
            "nonce": self.nonce,
            "type": "move_closer",
            "order": list(self.order),
            "issued_at_ms": self.issued_ms,
            "expires_at_ms": self.expires_ms,
            "min_scale_ratio": MIN_SCALE_RATIO,
            "min_step_ms": MIN_STEP_MS,
            "max_step_ms": MAX_STEP_MS,
        }


class ChallengeStore:
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
        order: tuple[str, str] = ("far", "near") if secrets.randbelow(2) == 0 else ("near", "far")
        ch = Challenge(secrets.token_urlsafe(18), new_nonce(), now, now + self.ttl_ms, order)
        with self._lock:
            conn = self._connection()
            conn.execute("DELETE FROM challenges WHERE expires_ms < ?", (now - self.ttl_ms,))
            conn.execute(
                "INSERT INTO challenges (id, nonce, params, issued_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (ch.id, ch.nonce, json.dumps({"order": list(order)}), now, ch.expires_ms),
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
        order = json.loads(row[2])["order"]
        return Challenge(row[0], row[1], int(row[3]), int(row[4]), (order[0], order[1]))

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class ChallengeOutcome:
    """The verdict on a challenge answer, with the measurements behind it."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    planarity: float | None = None
    photometric: float | None = None
    scale_ratio: float | None = None
    min_identity: float | None = None


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
        if not MIN_STEP_MS <= step <= MAX_STEP_MS:
            reasons.append("implausible_timing")
    all_t = [f.t for f in frames]
    if any(b <= a for a, b in itertools.pairwise(all_t)):
        reasons.append("frames_not_in_time_order")
    return ch, reasons


def jpeg_tables(data: bytes) -> Any:
    """The JPEG quantisation tables of an image file (None for non-JPEG): an encoder trait."""
    from PIL import Image

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
