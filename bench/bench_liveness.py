"""Latency and CPU time of POST /api/v1/face/as, in-process, one worker.

Images: 640×480 JPEG frames of the live webcam clip (the SDK's capture size) and the dev
PAD images as stored (face crops, 86–513 px wide). Requests go through the whole ASGI app
(middleware, ledger, base64 + decode, detection, the two CNNs, the cues, the fusion), one at
a time; the first ``--warmup`` are not timed. CPU ms is this process's CPU time per request
(``time.process_time``), which on a loaded machine is steadier than wall time.

    python bench/bench_liveness.py [-n 60] [--warmup 5]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"


def webcam_frames(n: int) -> list[str]:
    cap = cv2.VideoCapture(str(DATA / "video" / "apfol__real2__live.webm"))
    out: list[str] = []
    i = 0
    while len(out) < n:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % 7 == 0:
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
            out.append(base64.b64encode(buf.tobytes()).decode("ascii"))
        i += 1
    cap.release()
    return out


def pad_images(n: int) -> list[str]:
    files = sorted((DATA / "pad").rglob("*.png"))
    step = max(1, len(files) // max(n, 1))
    return [base64.b64encode(p.read_bytes()).decode("ascii") for p in files[::step][:n]]


def run(images: list[str], warmup: int, client: object) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for i, img in enumerate(images):
        t0, c0 = time.perf_counter(), time.process_time()
        r = client.post("/api/v1/face/as", data={"image": img, "threshold": "LOW"})  # type: ignore[attr-defined]
        t1, c1 = time.perf_counter(), time.process_time()
        if r.status_code != 200:
            continue  # e.g. no face: not a liveness timing
        if i >= warmup:
            wall.append(1000 * (t1 - t0))
            cpu.append(1000 * (c1 - c0))
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    if not DATA.is_dir():
        print("../shared/data is not present", file=sys.stderr)
        return 1
    from fastapi.testclient import TestClient

    from faceproof.api.app import create_app
    from faceproof.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            model_dir=REPO / "var" / "models",
            require_models=True,
            log_level="WARNING",
        )
        with TestClient(create_app(settings)) as client:
            for name, imgs in (
                ("640x480 webcam JPEG", webcam_frames(args.n + args.warmup)),
                ("dev PAD crops (PNG)", pad_images(args.n + args.warmup)),
            ):
                wall, cpu = run(imgs, args.warmup, client)
                print(
                    f"{name:<22} n={len(wall):3d}  median wall {statistics.median(wall):7.1f} ms"
                    f"  median CPU {statistics.median(cpu):7.1f} ms"
                    f"  p90 wall {sorted(wall)[int(0.9 * (len(wall) - 1))]:7.1f} ms"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
