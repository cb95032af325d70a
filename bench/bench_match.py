"""Latency of POST /api/v1/matchWithSelfie, in-process, one worker, 640×480 JPEG selfies.

Each request carries two real LFW photos (same or different person, alternating), resized
and placed on a 640×480 canvas as a webcam selfie would frame them, JPEG-encoded in memory.
Requests go through the whole ASGI app (middleware, ledger, decode, detection, landmarks,
alignment, embedding) one at a time; the first ``--warmup`` are not timed.

    python bench/bench_match.py [-n 60] [--warmup 5] [--endpoint matchWithSelfie] [--helpers 0]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
LFW = REPO / ".." / "shared" / "data" / "verify" / "lfw"


def selfie_jpeg(path: Path, size: int = 420, quality: int = 90) -> str:
    """The photo scaled to ``size`` px, centred on a 640×480 canvas of its own border colour."""
    with Image.open(path) as im:
        face = im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    border = np.asarray(face)[[0, -1], :, :].reshape(-1, 3).mean(axis=0)
    canvas = Image.new("RGB", (640, 480), tuple(int(c) for c in border))
    canvas.paste(face, ((640 - size) // 2, (480 - size) // 2))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=quality)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=60, help="timed requests")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument(
        "--endpoint", default="matchWithSelfie", choices=["matchWithSelfie", "matchWithPictureId"]
    )
    ap.add_argument("--models", type=Path, default=REPO / "var" / "models")
    ap.add_argument(
        "--helpers",
        type=int,
        default=None,
        help="matcher helper threads (0: both images analysed one after the other)",
    )
    args = ap.parse_args()
    if not LFW.is_dir():
        print("../shared/data/verify/lfw not found", file=sys.stderr)
        return 2

    from fastapi.testclient import TestClient

    from faceproof.api.app import create_app
    from faceproof.config import load_settings

    people = [p for p in sorted(LFW.iterdir()) if len(list(p.glob("*.jpg"))) >= 2][:40]
    same = [tuple(sorted(p.glob("*.jpg"))[:2]) for p in people]
    bodies = []
    for i, (a, b) in enumerate(same):
        other = same[(i + 1) % len(same)][1]
        second = b if i % 2 == 0 else other
        bodies.append(
            {
                "image": {"template": selfie_jpeg(a), "format": "JPEG"},
                "imageToVerifyAgainst": {"template": selfie_jpeg(second), "format": "JPEG"},
                "level": "MEDIUM",
            }
        )

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), model_dir=args.models, require_models=True)
        app = create_app(settings)
        if args.helpers is not None:
            from faceproof.matching.matcher import Matcher

            services = app.state.services
            services.matcher = Matcher(services.matcher.calibration, helpers=args.helpers)
        times: list[float] = []
        codes: dict[int, int] = {}
        with TestClient(app) as client:
            for i in range(args.warmup + args.n):
                body = bodies[i % len(bodies)]
                t0 = time.perf_counter()
                r = client.post(f"/api/v1/{args.endpoint}", json=body)
                dt = (time.perf_counter() - t0) * 1000
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
                if i >= args.warmup:
                    times.append(dt)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    helpers = "default" if args.helpers is None else args.helpers
    print(
        f"/{args.endpoint}: {len(times)} requests, 640x480 JPEG pairs, 1 worker, in-process, "
        f"matcher helpers={helpers}"
    )
    print(
        f"median {statistics.median(times):.1f} ms   p95 {p95:.1f} ms   "
        f"min {times[0]:.1f} ms   max {times[-1]:.1f} ms   status {codes}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
