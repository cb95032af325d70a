"""Pipeline benchmark on 640×480 images, one worker: per stage in-process, per endpoint
from a real server.

    python bench/bench_pipeline.py [--repeat 5] [--images 12] [--skip-stages]

Images are real webcam frames (../shared/data/video) and real portraits fitted to 640×480.

* Stages: the engine called in this process; median wall and process CPU ms over
  images × repeats. Models run with one thread, as in a worker.
* Endpoints: ``faceproof serve --workers 1`` in a subprocess on 127.0.0.1 (free port, temp
  data dir, the models of FACEPROOF_MODEL_DIR), driven sequentially by a keep-alive client
  in this process. Bodies are encoded before the clock starts. Per request the server's
  ``Server-Timing`` header gives its wall (``app``) and process CPU (``cpu``) ms — the
  request's own CPU, since requests never overlap here — and the client measures the
  latency it observed (loopback, HTTP framing and the server's socket I/O included). Median
  and p95 of each; the first ``WARMUP`` requests per endpoint are not counted.
* generateTemplateFromImage runs twice per image: with the default quality mode (ENROL,
  what integrators get) and with ``qualityMode: DISABLED``. Every answer is counted and
  timed: answers other than 200 (e.g. 510, a webcam frame below the ENROL quality bar) get
  their own row, named with their HTTP status and code, and the count table lists them all.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imaging import DATA, encode, fit, load_rgb, video_frames  # noqa: E402
from serving import running_server  # noqa: E402

GENERATE = "/api/v1/face/generateTemplateFromImage"
PROCESS = "/api/v1/process"
WARMUP = 2
TARGETS_CPU_MS = {  # the CPU targets, median server CPU per image
    "generateTemplateFromImage (DISABLED)": 25.0,
    "/process (no liveness, JPEG)": 40.0,
}
_TIMING = re.compile(r"app;dur=([\d.]+),\s*cpu;dur=([\d.]+)")


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


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[list[float], list[float]]] = {}

    def add(self, name: str, wall: float, cpu: float) -> None:
        w, c = self.rows.setdefault(name, ([], []))
        w.append(wall)
        c.append(cpu)

    def print(self) -> None:
        print(f"{'stage (in-process)':42s} {'wall ms':>9s} {'cpu ms':>9s} {'n':>4s}")
        for name, (w, c) in self.rows.items():
            print(f"{name:42s} {statistics.median(w):9.2f} {statistics.median(c):9.2f} {len(w):4d}")


class EndpointTable:
    """Server CPU, server wall and client latency per endpoint: median / p95."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[list[float], list[float], list[float]]] = {}

    def add(self, name: str, cpu: float, wall: float, client: float) -> None:
        c, w, cl = self.rows.setdefault(name, ([], [], []))
        c.append(cpu)
        w.append(wall)
        cl.append(client)

    def print(self) -> None:
        cols = ("server cpu", "server wall", "client")
        width = max([36, *(len(name) + 1 for name in self.rows)])
        print(
            f"{'endpoint (server, median / p95 ms)':{width}s}"
            + "".join(f"{c:>16s}" for c in cols)
            + f"{'n':>5s}"
        )
        for name, series in self.rows.items():
            cells = "".join(f"{statistics.median(s):8.2f}/{p95(s):7.2f}" for s in series)
            print(f"{name:{width}s}{cells}{len(series[0]):5d}")
        for name, target in TARGETS_CPU_MS.items():
            if name in self.rows:
                got = statistics.median(self.rows[name][0])
                verdict = "met" if got <= target else "NOT met"
                print(f"target {name}: median server cpu {got:.2f} <= {target:.0f} ms: {verdict}")


def run_stages(args: argparse.Namespace, jpegs: list[bytes], model_dir: Path) -> Table:
    from faceproof.api.app import create_app
    from faceproof.config import load_settings
    from faceproof.icao import enrol_check
    from faceproof.pipeline import outputs
    from faceproof.pipeline.decode import decode_image

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), model_dir=model_dir)
        app = create_app(settings)
        engine = app.state.services.face
        table = Table()
        for _ in range(args.repeat):
            for data in jpegs:
                w, c, dec = timed(lambda d=data: decode_image(d))
                table.add("decode JPEG", w, c)
                rgb = dec.rgb
                w, c, search = timed(lambda im=rgb: engine.find_faces(im, "selfie"))
                table.add("detect (selfie: short + full range)", w, c)
                w, c, _ = timed(lambda im=rgb: engine.find_faces(im, "document"))
                table.add("detect (document: full range)", w, c)
                if search.main is None:
                    continue
                w, c, rec = timed(lambda s=search, im=rgb: engine.landmarks(im, s.main))
                table.add("landmarks (mesh x2 + iris) + pose", w, c)
                w, c, _ = timed(lambda r=rec, im=rgb: engine.embedding(im, r))
                table.add("align 112 + embed", w, c)
                w, c, out = timed(
                    lambda r=rec, s=search, im=rgb: outputs.measure(
                        engine, im, r, s, need_mask=True
                    )
                )
                table.add("segmentation + quality session", w, c)
                w, c, _ = timed(lambda o=out: outputs.quality_block(o))
                table.add("quality block", w, c)
                w, c, icao = timed(lambda o=out: outputs.icao_report(o))
                table.add("ICAO metrics", w, c)
                w, c, _ = timed(
                    lambda o=out, i=icao: enrol_check(o.session, i, "VERIFY", quality=o.quality)
                )
                table.add("enrol check", w, c)
                w, c, _ = timed(
                    lambda r=rec, im=rgb: outputs.encode_templates(
                        im, ["JPEG"], r, image_type="BASIC"
                    )
                )
                table.add("JPEG template", w, c)
        app.state.services.close()
    return table


class Client:
    """One keep-alive HTTP/1.1 connection; ``post`` returns status, body, Server-Timing."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes, str, float]:
        t0 = time.perf_counter()
        self.conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        r = self.conn.getresponse()
        data = r.read()
        latency = (time.perf_counter() - t0) * 1000
        return r.status, data, r.headers.get("Server-Timing", ""), latency

    def close(self) -> None:
        self.conn.close()


def multipart(field: str, filename: str, payload: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def _code(body: bytes) -> int | None:
    """The answer's ``code`` field (the reference's error code), when it has one."""
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def run_endpoints(
    args: argparse.Namespace,
    jpegs: list[bytes],
    model_dir: Path,
    answers: Counter[tuple[str, int, int | None]],
) -> EndpointTable:
    from faceproof.crypto.envelope import build_envelope

    table = EndpointTable()
    process_cases = (
        ("/process (no liveness, JPEG)", {"enableAs": False, "requiredTemplates": ["JPEG"]}),
        (
            "/process (no liveness, JPEG, ICAO)",
            {"enableAs": False, "requiredTemplates": ["JPEG"], "enableICAOChecks": True},
        ),
    )
    generate_cases: tuple[tuple[str, dict[str, str]], ...] = (
        ("generateTemplateFromImage (ENROL, default)", {}),
        ("generateTemplateFromImage (DISABLED)", {"qualityMode": "DISABLED"}),
    )
    with running_server(model_dir=model_dir) as served:
        client = Client(served.port)
        try:
            status, data, _, _ = client.post("/api/v1/pub_key", b"", "application/json")
            if status != 200:
                raise SystemExit(f"pub_key answered {status}")
            jwk = json.loads(data)["jwk"]
            seen: dict[str, int] = {}

            def record(name: str, status: int, timing: str, latency: float, data: bytes) -> None:
                code = _code(data)
                answers[(name, status, code)] += 1
                if status != 200:
                    name = f"{name} [HTTP {status}, code {code}]"
                seen[name] = seen.get(name, 0) + 1
                m = _TIMING.search(timing)
                if m is None:
                    raise SystemExit(f"no Server-Timing header on {name}")
                if seen[name] > WARMUP or status != 200:  # error rows: every answer counts
                    table.add(name, float(m.group(2)), float(m.group(1)), latency)

            for _ in range(args.repeat):
                for jpeg in jpegs:
                    for name, extra in generate_cases:
                        body = json.dumps(
                            {"image": base64.b64encode(jpeg).decode(), **extra}
                        ).encode()
                        status, data, timing, latency = client.post(
                            GENERATE, body, "application/json"
                        )
                        record(name, status, timing, latency, data)
                    for name, opts in process_cases:
                        form, ctype = multipart(
                            "file", "bdata", build_envelope([jpeg], jwk, options=opts)
                        )
                        status, data, timing, latency = client.post(PROCESS, form, ctype)
                        record(name, status, timing, latency, data)
        finally:
            client.close()
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--skip-stages", action="store_true", help="endpoint figures only")
    args = ap.parse_args()

    model_dir = Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models")).resolve()
    imgs = images(args.images)
    jpegs = [encode(im) for im in imgs]
    stages = None if args.skip_stages else run_stages(args, jpegs, model_dir)
    answers: Counter[tuple[str, int, int | None]] = Counter()
    endpoints = run_endpoints(args, jpegs, model_dir, answers)
    print(
        f"{len(imgs)} images of 640x480, {args.repeat} repeats, one worker, models 1 thread, "
        f"{os.cpu_count()} CPUs"
    )
    if stages is not None:
        stages.print()
    endpoints.print()
    print(f"\nevery answer ({sum(answers.values())}):")
    for (name, status, code), n in sorted(answers.items(), key=lambda kv: str(kv[0])):
        print(f"  {name:44s} HTTP {status} code {code}: {n}")


if __name__ == "__main__":
    main()
