"""Test-side image helpers: real frames and portraits shaped like SDK captures (in memory)."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LIVE_VIDEO = DATA / "video" / "apfol__real2__live.webm"


@lru_cache(maxsize=4)
def video_frames(
    path: Path = LIVE_VIDEO, step: int = 10, limit: int = 12
) -> tuple[np.ndarray, ...]:
    """RGB frames (every ``step``-th) of a real video, 640×480 for the webcam clips."""
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    i = 0
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    return tuple(frames)


def fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the aspect ratio, then resize: how an SDK frames a capture."""
    h, w = rgb.shape[:2]
    target = width / height
    if w / h > target:
        nw = round(h * target)
        x0 = (w - nw) // 2
        rgb = rgb[:, x0 : x0 + nw]
    else:
        nh = round(w / target)
        y0 = (h - nh) // 2
        rgb = rgb[y0 : y0 + nh]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def encode(rgb: np.ndarray, fmt: str = "JPEG", quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def empty_capture(client: Any) -> bytes:
    """A well-formed, correctly sealed envelope that holds no frame (the SDK never sends
    one; the server must still answer it in the documented way)."""
    import time

    from faceproof.crypto.envelope import CaptureOptions, CapturePayload, new_nonce, seal

    payload = CapturePayload(
        nonce=new_nonce(),
        ts=int(time.time() * 1000),
        frames=[],
        options=CaptureOptions(enableAs=False),
    )
    return seal(payload, client.app.state.services.keystore.public_jwk())
