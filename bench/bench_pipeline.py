"""Pipeline benchmark: per-stage and per-endpoint median ms on 640×480 images, one worker.

    python bench/bench_pipeline.py [--repeat 5] [--images 12]

Images are real webcam frames (../shared/data/video) and real portraits fitted to 640×480.
Every figure is the median over images × repeats of wall time and of process CPU time (both
in ms); models run with one thread, as one uvicorn worker would.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imaging import DATA, encode, fit, load_rgb, video_frames  # noqa: E402


def images(n: int) -> list[np.ndarray]:
    frames = list(video_frames(step=15, limit=n // 2))
    portraits = sorted((DATA / "verify" / "extra" / "deepface_unit_dataset").rglob("*.jpg"))
    for p in portraits[: n - len(frames)]:
        frames.append(fit(load_rgb(p), 640, 480))
    return frames


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000, out


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[list[float], list[float]]] = {}

    def add(self, name: str, wall: float, cpu: float) -> None:
        w, c = self.rows.setdefault(name, ([], []))
        w.append(wall)
        c.append(cpu)

    def print(self) -> None:
        print(f"{'stage':42s} {'wall ms':>9s} {'cpu ms':>9s} {'n':>4s}")
        for name, (w, c) in self.rows.items():
            print(f"{name:42s} {statistics.median(w):9.2f} {statistics.median(c):9.2f} {len(w):4d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--images", type=int, default=12)
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from faceproof.api.app import create_app
    from faceproof.config import load_settings
    from faceproof.crypto.envelope import build_envelope
    from faceproof.pipeline import outputs
    from faceproof.pipeline.decode import decode_image

    model_dir = Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models"))
    settings = load_settings(data_dir=Path(tempfile.mkdtemp()), model_dir=model_dir)
    app = create_app(settings)
    engine = app.state.services.face
    imgs = images(args.images)
    jpegs = [encode(im) for im in imgs]
    table = Table()

    for _ in range(args.repeat):
        for data in jpegs:
            w, c, dec = timed(lambda d=data: decode_image(d))
            table.add("decode JPEG", w, c)
            rgb = dec.rgb
            w, c, search = timed(lambda im=rgb: engine.find_faces(im, "selfie"))
            table.add("detect (selfie: short + full range)", w, c)
            if search.main is None:
                continue
            w, c, rec = timed(lambda s=search, im=rgb: engine.landmarks(im, s.main))
            table.add("landmarks (mesh x2 + iris) + pose", w, c)
            w, c, _ = timed(lambda r=rec, im=rgb: engine.embedding(im, r))
            table.add("align 112 + embed (flip)", w, c)
            w, c, out = timed(
                lambda r=rec, s=search, im=rgb: outputs.measure(engine, im, r, s, need_mask=True)
            )
            table.add("segmentation + quality session", w, c)
            w, c, _ = timed(lambda o=out: outputs.quality_block(o))
            table.add("quality block", w, c)
            w, c, _ = timed(lambda o=out: outputs.icao_report(o))
            table.add("ICAO metrics", w, c)
            w, c, _ = timed(
                lambda r=rec, im=rgb: outputs.encode_templates(im, ["JPEG"], r, image_type="BASIC")
            )
            table.add("JPEG template", w, c)

    jwk = app.state.services.keystore.public_jwk()
    with TestClient(app) as client:
        for _ in range(args.repeat):
            for data in jpegs:
                body = {"image": base64.b64encode(data).decode(), "qualityMode": "DISABLED"}
                w, c, r = timed(
                    lambda b=body: client.post("/api/v1/face/generateTemplateFromImage", json=b)
                )
                if r.status_code == 200:
                    table.add("endpoint generateTemplateFromImage", w, c)
                for name, opts in (
                    (
                        "endpoint /process (no liveness, JPEG)",
                        {"enableAs": False, "requiredTemplates": ["JPEG"]},
                    ),
                    (
                        "endpoint /process (no liveness, JPEG, ICAO)",
                        {
                            "enableAs": False,
                            "requiredTemplates": ["JPEG"],
                            "enableICAOChecks": True,
                        },
                    ),
                ):
                    token = build_envelope([data], jwk, options=opts)
                    w, c, r = timed(
                        lambda t=token: client.post("/api/v1/process", files={"file": ("bdata", t)})
                    )
                    if r.status_code == 200:
                        table.add(name, w, c)
    print(f"{len(imgs)} images of 640x480, {args.repeat} repeats, one worker, models 1 thread")
    table.print()


if __name__ == "__main__":
    main()
