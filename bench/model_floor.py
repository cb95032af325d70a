"""The physical floor of each endpoint: the models' own inference CPU per request, beside the
CPU the whole request takes, and where the rest goes by stage.

    python bench/model_floor.py [-n 20] [--images mixed|lfw] [--only NAME ...] [--stages]
                                [--challenge]

In this process (no server, no sockets): the app is driven through httpx's ASGI transport
with FastAPI's thread pool replaced by a direct call, so a request runs on this thread
(matching's second-image helper thread aside). Every LiteRT ``invoke`` and onnxruntime
``run`` is wrapped and its thread CPU time summed per model. Printed per endpoint: CPU per
request of all threads of this process (``time.process_time``; it includes the test
client's few hundred microseconds), the models' share, and the models by name with calls
per request. ``--stages`` adds generateTemplateFromImage's stages one by one (decode,
detection, landmarks, segmentation, quality, ICAO, embedding), model and other CPU each,
and those of one face of a match (decode, detection, landmarks, alignment and embedding).
``--challenge`` profiles /process on challenge captures as the SDK sends them by default
(main frame, far and near steps, 7-8 screen-light frames; built like
``tests/challenge_capture.py`` against challenges this app issued): the whole request's
CPU, and by stage (each function's own CPU, nested timed stages subtracted) with its calls
and model share per request.

The bodies are those of ``bench/cpu_per_request.py`` (same images, same options), so the
floors line up with its server figures. Models run with one thread, as in the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `faceproof serve` pins it
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import cpu_per_request as cpr  # noqa: E402

MODEL_NS: Counter[str] = Counter()
MODEL_CALLS: Counter[str] = Counter()


def _wrap_models() -> None:
    """Sum thread CPU per model around every LiteRT and onnxruntime inference."""
    import onnxruntime as ort

    from faceproof.models import runtime

    lite_run = runtime.TFLiteModel.run

    def run(self: Any, feeds: Any) -> Any:
        t = time.thread_time_ns()
        try:
            return lite_run(self, feeds)
        finally:
            MODEL_NS[self.path.name] += time.thread_time_ns() - t
            MODEL_CALLS[self.path.name] += 1

    runtime.TFLiteModel.run = run  # type: ignore[method-assign]
    ort_run = ort.InferenceSession.run

    def orun(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = "onnx:" + ",".join(o.name for o in self.get_outputs())[:24]
        t = time.thread_time_ns()
        try:
            return ort_run(self, *args, **kwargs)
        finally:
            MODEL_NS[name] += time.thread_time_ns() - t
            MODEL_CALLS[name] += 1

    ort.InferenceSession.run = orun


def _inline_threadpool() -> None:
    """Sync endpoints and dependencies run on the calling thread (one request at a time)."""
    import fastapi.dependencies.utils
    import fastapi.routing
    import starlette.concurrency

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for mod in (fastapi.routing, fastapi.dependencies.utils, starlette.concurrency):
        if hasattr(mod, "run_in_threadpool"):
            mod.run_in_threadpool = inline  # type: ignore[attr-defined]


async def endpoints(args: argparse.Namespace, app: Any) -> None:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        jwk = (await client.post(f"{cpr.API}/pub_key")).json()["jwk"]
        eps = cpr.endpoints(jwk, max(args.n, 8), args.images)
        names = [k for k in eps if args.only is None or k in args.only]
        print(
            f"{'endpoint':27s} {'cpu ms':>7s} {'models':>7s} {'other':>7s}  models by name "
            "(ms per request, calls per request)"
        )
        for name in names:
            path, make = eps[name]
            bodies = [make(i) for i in range(args.n + args.warmup)]
            for body in bodies[: args.warmup]:
                await client.post(path, content=body[0], headers={"Content-Type": body[1]})
            MODEL_NS.clear()
            MODEL_CALLS.clear()
            codes: Counter[str] = Counter()
            t0 = time.process_time_ns()
            for body in bodies[args.warmup :]:
                r = await client.post(path, content=body[0], headers={"Content-Type": body[1]})
                codes[cpr.code_of(r.status_code, r.content)] += 1
            cpu = (time.process_time_ns() - t0) / 1e6 / args.n
            models = sum(MODEL_NS.values()) / 1e6 / args.n
            detail = ", ".join(
                f"{k} {v / 1e6 / args.n:.1f} ({MODEL_CALLS[k] / args.n:.1f})"
                for k, v in MODEL_NS.most_common()
            )
            print(f"{name:27s} {cpu:7.1f} {models:7.1f} {cpu - models:7.1f}  {detail}")
            print(f"{'':27s} answers {dict(codes)}")


#: Per stage name: CPU ms of each call, and the models' share of it.
StageRows = dict[str, tuple[list[float], list[float]]]


def _stage_timer(rows: StageRows) -> Callable[..., Any]:
    """``timed(name, fn, *args, **kwargs)``: runs ``fn`` and files its thread CPU and the
    model inference inside it under ``name``."""

    def timed(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        m0, t0 = sum(MODEL_NS.values()), time.thread_time_ns()
        out = fn(*args, **kwargs)
        rows[name][0].append((time.thread_time_ns() - t0) / 1e6)
        rows[name][1].append((sum(MODEL_NS.values()) - m0) / 1e6)
        return out

    return timed


def stages(args: argparse.Namespace, services: Any) -> None:
    """generateTemplateFromImage stage by stage, as its router calls them."""
    from faceproof.icao import enrol_check
    from faceproof.pipeline import outputs
    from faceproof.pipeline.decode import decode_base64, decode_image

    engine = services.face
    rows: StageRows = defaultdict(lambda: ([], []))
    timed = _stage_timer(rows)

    for jpeg in cpr.portraits(args.n, args.images):
        body = json.dumps({"image": base64.b64encode(jpeg).decode()}).encode()
        doc = timed("JSON body", json.loads, body)
        raw = timed("base64", decode_base64, doc["image"], "/image")
        rgb = timed("decode JPEG", decode_image, raw, field="/image").rgb
        search = timed("detection (+ animal check)", engine.find_faces, rgb, "document")
        if search.main is None:
            continue
        rec = timed("landmarks: mesh x2, iris, pose", engine.landmarks, rgb, search.main)
        out = timed(
            "segmentation + quality session",
            outputs.measure,
            engine,
            rgb,
            rec,
            search,
            need_mask=True,
        )
        timed("quality block", outputs.quality_block, out)
        icao = timed("ICAO metrics", outputs.icao_report, out)
        timed("ENROL gate", enrol_check, out.session, icao, "ENROL", quality=out.quality)
        timed("align 112 + MobileFaceNet", engine.embedding, rgb, rec)
    _stage_table("generateTemplateFromImage stage", rows, "sum (a face found)")


def _stage_table(title: str, rows: StageRows, total_name: str) -> None:
    print(f"\n{title:34s} {'cpu ms':>7s} {'models':>7s} {'other':>7s}")
    total = [0.0, 0.0]
    for name, (cpu, mod) in rows.items():
        c, m = statistics.fmean(cpu), statistics.fmean(mod)
        total[0] += c
        total[1] += m
        print(f"{name:34s} {c:7.2f} {m:7.2f} {c - m:7.2f}")
    print(f"{total_name:34s} {total[0]:7.2f} {total[1]:7.2f} {total[0] - total[1]:7.2f}")


def match_stages(args: argparse.Namespace, services: Any) -> None:
    """One face of a match, stage by stage, as ``Matcher.embed`` runs them: the selfie of
    each pair in "selfie" mode and the second image in "document" mode (/matchWithPictureId's
    modes; the router decodes both images first)."""
    from faceproof.pipeline.decode import decode_image

    engine = services.face
    rows: StageRows = defaultdict(lambda: ([], []))
    timed = _stage_timer(rows)

    for pair in cpr.pairs(args.n):
        for jpeg, mode in zip(pair, ("selfie", "document"), strict=True):
            rgb = timed("decode JPEG", decode_image, jpeg, field="/image").rgb
            search = timed("detection (+ animal check)", engine.find_faces, rgb, mode)
            if search.main is None:
                continue
            rec = timed("landmarks: mesh x2, iris, pose", engine.landmarks, rgb, search.main)
            timed("align 112 + MobileFaceNet", engine.embedding, rgb, rec)
    _stage_table("match, per face", rows, "sum (a face found)")


#: What the challenge profile times: (module, attribute path, stage name). Methods are
#: patched on their class, functions in the module that calls them.
CHALLENGE_STAGES = (
    ("faceproof.api.capture", "decode_image", "decode JPEG"),
    ("faceproof.api.capture", "probe_image", "probe frame headers"),
    ("faceproof.crypto.envelope", "EnvelopeOpener.open", "open envelope (JWE)"),
    ("faceproof.pipeline.engine", "FaceEngine.find_faces", "detection (+ animal check)"),
    ("faceproof.models.blazeface", "BlazeFaceDetector.detect", "detection (one BlazeFace)"),
    ("faceproof.pipeline.landmarks", "LandmarkStage.track", "track from previous mesh"),
    ("faceproof.models.facemesh", "FaceMeshModel.run_roi", "face mesh"),
    ("faceproof.models.iris", "IrisModel.run", "iris"),
    ("faceproof.pipeline.engine", "estimate_pose", "pose"),
    ("faceproof.pipeline.engine", "FaceEngine.embedding", "embedding"),
    ("faceproof.liveness.service", "identity_embeddings", "identity embeddings (plain)"),
    ("faceproof.liveness.service", "LivenessService.passive_score", "passive score"),
    ("faceproof.liveness.service", "quality_ok", "quality_ok"),
    ("faceproof.liveness.challenge", "check_binding", "claim + binding"),
    ("faceproof.liveness.challenge", "jpeg_tables", "JPEG tables"),
    ("faceproof.liveness.service", "planarity", "planarity"),
    ("faceproof.liveness.service", "photometric_residual", "ECC photometric residual"),
    ("faceproof.liveness.screen_light", "measure_frame", "screen light: measure frame"),
    ("faceproof.liveness.screen_light", "judge", "screen light: judge"),
    # Cached per colour multiset (21 are issued): CPU here is a worker's first meeting.
    ("faceproof.liveness.screen_light", "_orders", "screen light: colour orders"),
    ("faceproof.pipeline.outputs", "measure", "segmentation + quality session"),
    ("faceproof.pipeline.outputs", "encode_templates", "templates"),
    ("faceproof.pipeline.outputs", "aligned", "aligned image"),
    ("faceproof.pipeline.outputs", "jpeg_b64", "JPEG answer images"),
)


def _patch_stages(rows: StageRows, calls: Counter[str]) -> Callable[[], None]:
    """Wraps every CHALLENGE_STAGES entry that exists; each call files its own thread CPU
    (minus the timed stages nested inside it) and its models' share. Returns the undo."""
    import importlib

    stack: list[list[int]] = []  # per open call: [nested cpu ns, nested model ns]
    undo: list[Callable[[], None]] = []

    def wrap(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            m0, t0 = sum(MODEL_NS.values()), time.thread_time_ns()
            stack.append([0, 0])
            try:
                return fn(*args, **kwargs)
            finally:
                nested = stack.pop()
                cpu, mod = time.thread_time_ns() - t0, sum(MODEL_NS.values()) - m0
                rows[name][0].append((cpu - nested[0]) / 1e6)
                rows[name][1].append((mod - nested[1]) / 1e6)
                calls[name] += 1
                if stack:
                    stack[-1][0] += cpu
                    stack[-1][1] += mod

        return timed

    for module, path, name in CHALLENGE_STAGES:
        owner: Any = importlib.import_module(module)
        *parents, attr = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        if not hasattr(owner, attr):
            continue  # a stage this tree does not have
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        setattr(owner, attr, wrap(original, name))
        undo.append(lambda o=owner, a=attr, f=original: setattr(o, a, f))

    def restore() -> None:
        for u in reversed(undo):
            u()

    return restore


async def challenge_profile(args: argparse.Namespace, app: Any) -> None:
    """/process on SDK challenge captures: CPU per request and by stage (module docstring).

    Captures are built and sealed before the clock starts; each answers a challenge the app
    issued (as ``POST /api/v1/challenge`` would; not counted)."""
    import httpx

    from challenge_capture import answer

    services = app.state.services
    jwk = services.keystore.public_jwk()
    tokens = []
    for i in range(args.n + args.warmup):
        ch = services.liveness.issue_challenge().public()
        tokens.append(answer(services.face, ch, seed=i).seal(jwk))
    path = f"{cpr.API}/process"
    rows: StageRows = defaultdict(lambda: ([], []))
    calls: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def post(token: bytes) -> Any:
            body = cpr.multipart({"enableQuality": "true"}, {"file": token})
            return await client.post(path, content=body[0], headers={"Content-Type": body[1]})

        for token in tokens[: args.warmup]:
            await post(token)
        MODEL_NS.clear()
        MODEL_CALLS.clear()
        restore = _patch_stages(rows, calls)
        try:
            t0 = time.process_time_ns()
            for token in tokens[args.warmup :]:
                r = await post(token)
                codes[cpr.code_of(r.status_code, r.content)] += 1
            cpu = (time.process_time_ns() - t0) / 1e6 / args.n
        finally:
            restore()
    n = args.n
    models = sum(MODEL_NS.values()) / 1e6 / n
    print(
        f"\n/process, challenge capture (answers {dict(codes)}, load average "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'stage (own CPU, per request)':34s} {'cpu ms':>7s} {'models':>7s} {'other':>7s} "
        f"{'calls':>6s}"
    )
    staged = [0.0, 0.0]
    for name, (c, m) in sorted(rows.items(), key=lambda kv: -sum(kv[1][0])):
        staged[0] += sum(c) / n
        staged[1] += sum(m) / n
        print(
            f"{name:34s} {sum(c) / n:7.2f} {sum(m) / n:7.2f} {(sum(c) - sum(m)) / n:7.2f} "
            f"{calls[name] / n:6.1f}"
        )
    rest = cpu - staged[0]
    print(
        f"{'rest (route, framework, glue)':34s} {rest:7.2f} {models - staged[1]:7.2f} "
        f"{rest - models + staged[1]:7.2f}"
    )
    print(f"{'whole request (all threads)':34s} {cpu:7.2f} {models:7.2f} {cpu - models:7.2f}")
    print(
        f"{'':34s} models by name (ms, calls per request): "
        + ", ".join(
            f"{k} {v / 1e6 / n:.1f} ({MODEL_CALLS[k] / n:.1f})" for k, v in MODEL_NS.most_common()
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=20, help="timed requests per endpoint")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--images", choices=("mixed", "lfw"), default="mixed")
    ap.add_argument("--only", nargs="*", default=None, help="endpoint names to run")
    ap.add_argument(
        "--stages", action="store_true", help="generate's stages and a match face's too"
    )
    ap.add_argument(
        "--challenge",
        action="store_true",
        help="/process on challenge captures, by stage (alone with --only none)",
    )
    args = ap.parse_args()
    _inline_threadpool()
    _wrap_models()
    from faceproof.api.app import create_app
    from faceproof.config import load_settings

    model_dir = Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models")).resolve()
    with tempfile.TemporaryDirectory(prefix="faceproof-floor-") as tmp:
        os.environ["FACEPROOF_ABUSE_FAILURES"] = "0"
        settings = load_settings(data_dir=Path(tmp), model_dir=model_dir)
        app = create_app(settings)
        logging.disable(logging.INFO)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared machine)")
        if args.only != ["none"]:
            asyncio.run(endpoints(args, app))
        if args.challenge:
            asyncio.run(challenge_profile(args, app))
        if args.stages:
            stages(args, app.state.services)
            match_stages(args, app.state.services)
        app.state.services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
