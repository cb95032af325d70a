"""Property-based fuzzing of every endpoint from our own OpenAPI document (schemathesis).

Whatever a client sends — wrong types, missing fields, junk strings, huge numbers — the
server answers in the documented error format and never with a 5xx.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from faceproof.api.app import create_app  # noqa: E402
from faceproof.config import load_settings  # noqa: E402


def _app() -> object:
    from conftest import model_dir

    models = model_dir()
    require = (models / "face_detection_short_range.tflite").is_file()
    data = Path(tempfile.mkdtemp(prefix="faceproof-fuzz-"))
    atexit.register(shutil.rmtree, data, True)
    return create_app(load_settings(data_dir=data, model_dir=models, require_models=require))


APP = _app()
schema = schemathesis.openapi.from_dict(APP.openapi())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(APP) as c:  # type: ignore[arg-type]
        yield c


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: schemathesis.Case, client: TestClient) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)  # no endpoint reads cookies
    import time

    cpu = time.process_time()
    response = client.request(**kwargs)
    cpu = time.process_time() - cpu
    assert response.status_code < 500 or response.json()["code"] == 604, response.text
    assert cpu <= 1.0, f"{cpu:.2f} s of CPU for one answer"  # stated bound: see below
    if response.status_code >= 400:
        body = response.json()
        assert {"code", "refid", "description"} <= set(body)
        assert "Traceback" not in response.text
        _no_framework_text(body["description"])


# Texts of pydantic, Starlette and FastAPI that must never reach a client (our messages name
# the field and say what to send: docs/api-decisions.md, "One error model").
FRAMEWORK_TEXTS = (
    "Field required",
    "Input should",
    "Expected UploadFile",
    "<class",
    "(/)",
    "There was an error parsing the body",
    "value is not a valid",
    "pydantic",
)


def _no_framework_text(description: str) -> None:
    leaked = [t for t in FRAMEWORK_TEXTS if t in description]
    assert not leaked, (leaked, description)


# -- hand-made adversarial input ---------------------------------------------------------
#
# What a property-based generator does not build: decompression bombs, frames that declare
# 40 Mpx in 34 KB, envelopes of 16 such frames sealed with the public key, truncated and
# mislabelled images, oversized and deeply nested bodies. Every endpoint that takes client
# data gets each of them, on an app whose pixel limit is a stated deployment setting
# (FACEPROOF_MAX_IMAGE_PIXELS = 4 Mpx). Stated bounds, checked per answer and overall:
#   * no 5xx, and the documented error body;
#   * at most 1 s of the process's CPU per answer (wall time on a shared CI machine is not
#     the server's doing; wall is bounded at 10 s, only to catch a hang);
#   * the test process's peak RSS grows by at most 400 MB over all of it.

FUZZ_PIXELS = 4_000_000


def _reset_peak_rss() -> None:
    """Lets VmHWM start again from the current RSS (Linux: clear_refs 5), if allowed."""
    import contextlib

    # Where not allowed, the peak is measured from the process's earlier high-water mark.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _png(width: int, height: int, rgba: bool = True) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + bytes((4 if rgba else 3) * width)
    raw = zlib.compress(row * height, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if rgba else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _truncated_jpeg(width: int, height: int, keep: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(buf, "JPEG", quality=50)
    return buf.getvalue()[: keep - 2] + b"\xff\xd9"


def _adversarial_images() -> dict[str, bytes]:
    import os

    return {
        "png bomb 6000x6600 (refused from the header)": _png(6000, 6600),
        "png 2000x2000 transparent (decoded: within the limit)": _png(2000, 2000),
        "png declaring 1000000x41": _png(1_000_000, 41, rgba=False)[:200],
        "jpeg 34 KB declaring 6320x6320": _truncated_jpeg(6320, 6320, 34 * 1024),
        "jpeg 1900x1900 truncated to 20 KB": _truncated_jpeg(1900, 1900, 20 * 1024),
        "png magic then junk": b"\x89PNG\r\n\x1a\n" + os.urandom(512),
        "jpeg magic then junk": b"\xff\xd8\xff" + os.urandom(512),
        "random bytes": os.urandom(2048),
    }


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[TestClient]:
    from conftest import model_dir

    models = model_dir()
    require = (models / "face_detection_short_range.tflite").is_file()
    data = Path(tempfile.mkdtemp(prefix="faceproof-fuzz-bombs-"))
    app = create_app(
        load_settings(
            data_dir=data, model_dir=models, require_models=require, max_image_pixels=FUZZ_PIXELS
        )
    )
    with TestClient(app, raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        yield c
    shutil.rmtree(data, ignore_errors=True)


def _requests(client: TestClient) -> list[tuple[str, dict[str, object]]]:
    import base64
    import json
    import time

    from faceproof.crypto.envelope import CapturePayload, Frame, new_nonce, seal

    jwk = json.loads(client.post("/api/v1/pub_key").content)["jwk"]
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    out: list[tuple[str, dict[str, object]]] = []
    images = _adversarial_images()
    for label, img in images.items():
        tpl = {"template": b64(img), "format": "PNG"}
        match = {"image": tpl, "imageToVerifyAgainst": tpl, "level": "HIGH"}
        out += [
            (
                f"generate {label}",
                {"url": "/api/v1/face/generateTemplateFromImage", "json": {"image": b64(img)}},
            ),
            (
                f"face/as {label}",
                {"url": "/api/v1/face/as", "data": {"image": b64(img), "threshold": "HIGH"}},
            ),
            (f"matchWithSelfie {label}", {"url": "/api/v1/matchWithSelfie", "json": match}),
            (f"matchWithPictureId {label}", {"url": "/api/v1/matchWithPictureId", "json": match}),
            (
                f"verifyWithPictureId picID {label}",
                {
                    "url": "/api/v1/verifyWithPictureId",
                    "files": {"file": ("bdata", b"x", "application/octet-stream")},
                    "data": {"picID": b64(img), "template": "PNG", "level": "HIGH"},
                },
            ),
        ]
    bomb = images["jpeg 34 KB declaring 6320x6320"]
    small = _truncated_jpeg(640, 480, 10**9)  # a whole, flat 640x480 JPEG

    def token(frames: list[bytes]) -> bytes:
        payload = CapturePayload(
            nonce=new_nonce(),
            ts=int(time.time() * 1000),
            frames=[Frame(jpeg=b64(f), t=i * 100) for i, f in enumerate(frames)],
        )
        return seal(payload, jwk)

    captures = {
        "16 frames declaring 6320x6320": lambda: token([bomb] * 16),
        "main 640x480 + 15 large frames": lambda: token([small] + [bomb] * 15),
        "random bytes": lambda: b"\x00" * 100_000,
        "a JWE cut in half": lambda: token([small])[:2000],
    }
    for label, make in captures.items():
        for url in ("/api/v1/process", "/api/v1/secure/face/as"):
            out.append(
                (
                    f"{url} {label}",
                    {"url": url, "files": {"file": ("bdata", make(), "application/octet-stream")}},
                )
            )
        out.append(
            (
                f"verifyWithPictureId file {label}",
                {
                    "url": "/api/v1/verifyWithPictureId",
                    "files": {"file": ("bdata", make(), "application/octet-stream")},
                    "data": {"picID": b64(small), "template": "JPEG", "level": "HIGH"},
                },
            )
        )
    nested = "[" * 100_000 + "]" * 100_000
    for url in ("/api/v1/face/generateTemplateFromImage", "/api/v1/matchWithSelfie"):
        out += [
            (
                f"{url} nested JSON",
                {"url": url, "content": nested, "headers": {"Content-Type": "application/json"}},
            ),
            (
                f"{url} 16 MB body",
                {
                    "url": url,
                    "content": b"{" + b" " * (16 << 20),
                    "headers": {"Content-Type": "application/json"},
                },
            ),
            (f"{url} wide JSON", {"url": url, "json": {"image": ["A"] * 200_000}}),
        ]
    return out


def test_adversarial_input_is_refused_quickly_in_bounded_memory(fuzz_client: TestClient) -> None:
    import time

    requests = _requests(fuzz_client)
    _reset_peak_rss()
    base = _hwm_mb()
    slow, worst = [], (0.0, 0.0)
    for label, kwargs in requests:
        w0, c0 = time.perf_counter(), time.process_time()
        r = fuzz_client.post(**kwargs)  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        assert r.status_code < 500, (label, r.status_code, r.text[:300])
        if r.status_code >= 400:
            body = r.json()
            assert {"code", "refid", "description"} <= set(body), (label, body)
            _no_framework_text(body["description"])
        worst = (max(worst[0], cpu), max(worst[1], wall))
        if cpu > 1.0 or wall > 10.0:
            slow.append((label, round(cpu, 2), round(wall, 2)))
    grown = _hwm_mb() - base
    print(
        f"{len(requests)} answers: max {worst[0]:.2f} s CPU, {worst[1]:.2f} s wall; +{grown:.0f} MB"
    )
    assert not slow, slow
    assert grown <= 400, f"peak RSS grew {grown:.0f} MB over {len(requests)} adversarial requests"
