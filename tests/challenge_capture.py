"""Answering a v2 challenge with real webcam frames, the way a browser SDK would.

The live clip (``apfol__real2__live.webm``) shows one person at two distances: frame 114 far,
frame 9 near (1.3× larger, nearly without rotation). For a challenge, each distance's frame
is moved and scaled (a similarity: what a user does by moving and what a camera sees) so
that its face box lands in that step's oval; the light frames are the frames following the
near one, placed like it, and lit by the screen's colours with
:func:`faceproof.liveness.screen_light.simulate_screen_light` (additive light on the face,
auto-exposure jitter, sensor noise), then every frame is JPEG-encoded by one encoder.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from faceproof.crypto.envelope import CapturePayload, Frame, seal
from faceproof.liveness import screen_light as sl
from imaging import LIVE_VIDEO, encode, video_frames

MAIN, FAR, NEAR = 0, 114, 9
LIGHT_STEP = 2  # light frames: NEAR, NEAR + 2, … (the user holds still, small natural motion)
BOX_FILL = 0.65  # face box height / oval height aimed at
DEPTH = 0.15  # relative modulation depth: a laptop screen at ~35 cm in office light


def clip() -> tuple[np.ndarray, ...]:
    return video_frames(LIVE_VIDEO, 1, 130)


def box_of(engine: Any, rgb: np.ndarray) -> tuple[float, float, float, float]:
    search = engine.find_faces(rgb, "selfie")
    assert search.main is not None
    box: tuple[float, float, float, float] = search.main.box
    return box


def placement(
    box: tuple[float, float, float, float], oval: dict[str, float], size: tuple[int, int]
) -> np.ndarray:
    """The 2×3 similarity that puts ``box`` at the oval's centre with BOX_FILL of its height."""
    w, h = size
    bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    s = BOX_FILL * oval["h"] * h / (box[3] - box[1])
    return np.array([[s, 0, oval["cx"] * w - s * bx], [0, s, oval["cy"] * h - s * by]])


def warp(rgb: np.ndarray, m: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.asarray(cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE))


def moved_box(
    box: tuple[float, float, float, float], m: np.ndarray
) -> tuple[float, float, float, float]:
    x0, y0 = m @ np.array([box[0], box[1], 1.0])
    x1, y1 = m @ np.array([box[2], box[3], 1.0])
    return (float(x0), float(y0), float(x1), float(y1))


@dataclass
class Answer:
    """A capture answering ``challenge``: frames (RGB), roles, times and light_start_t."""

    challenge: dict[str, Any]
    frames: list[np.ndarray] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    light_start_t: int = 0

    def payload(self, *, nonce: str | None = None, challenge_id: str | None = None) -> Any:
        return CapturePayload(
            nonce=nonce or self.challenge["nonce"],
            # Stamped after the last frame; the first frame came after the challenge's issue.
            ts=max(int(time.time() * 1000), self.challenge["issued_at_ms"] + self.times[-1] + 300),
            frames=[
                Frame(jpeg=base64.b64encode(encode(f)).decode(), t=t, role=r)
                for f, t, r in zip(self.frames, self.times, self.roles, strict=True)
            ],
            challenge={
                "id": challenge_id or self.challenge["id"],
                "light_start_t": self.light_start_t,
            },
        )

    def seal(self, jwk: dict[str, Any], **kw: Any) -> bytes:
        return seal(self.payload(**kw), jwk)


def answer(
    engine: Any,
    challenge: dict[str, Any],
    *,
    depth: float = DEPTH,
    colours: list[str] | None = None,
    ovals: dict[str, dict[str, float]] | None = None,
    seed: int = 7,
    light_step: int = LIGHT_STEP,
    lit: dict[tuple[int, str, float], np.ndarray] | None = None,
) -> Answer:
    """Frames that follow ``challenge`` (ovals, holds, colour windows). ``colours``: what the
    screen is made to show instead of the issued sequence; ``ovals``: where to put the face
    instead of the issued ovals; ``light_step`` 0: the near frame for every colour (a face
    held perfectly still: only the light, exposure jitter and sensor noise change).

    ``lit``: a cache for a load generator (bench/load.py). The light is simulated on the clip
    frame before it is moved, once per (frame, colour, depth), and the lit frame is then moved into
    the oval: the same light on the same face, only the sensor noise is moved with it and
    repeats across captures. The simulation is most of a capture's cost (~8×); tests that
    judge the light itself leave this out."""
    rng = np.random.default_rng(seed)
    video = clip()
    size = (video[0].shape[1], video[0].shape[0])
    light = challenge["light"]
    shown = colours or [c["color"] for c in light["colors"]]
    out = Answer(challenge, [video[MAIN]], ["main"], [0])
    t = 0
    for step in challenge["steps"]:
        role = step["role"]
        oval = (ovals or {}).get(role, step["oval"])
        src = video[NEAR if role == "near" else FAR]
        box = box_of(engine, src)
        m = placement(box, oval, size)
        t += step["hold_ms"] + 400
        out.frames.append(warp(src, m))
        out.roles.append(role)
        out.times.append(t)
        if role != "near":
            continue
        out.light_start_t = start = t + 60
        for k, (colour, entry) in enumerate(zip(shown, light["colors"], strict=True)):
            i = NEAR + light_step * (k + 1)
            if lit is None:
                moved = warp(video[i], m)
                frame = sl.simulate_screen_light(moved, moved_box(box, m), colour, depth, rng)
            else:
                key = (i, colour, depth)
                if key not in lit:
                    lit[key] = sl.simulate_screen_light(video[i], box, colour, depth, rng)
                frame = warp(lit[key], m)
            out.frames.append(frame)
            out.roles.append("light")
            out.times.append(start + int((1 + light["settle"]) / 2 * entry["ms"]))
            start += entry["ms"]
        t = start + 100
    return out
