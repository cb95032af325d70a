"""How ``faceproof serve`` serves, checked against real server processes on free ports:
workers, the bounded queue (503 + Retry-After), /metrics summed over workers, graceful
SIGTERM; plus the static guarantee that no endpoint runs inference on the event loop."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import model_dir
from imaging import LIVE_VIDEO, encode, video_frames
from live_server import running_server

GENERATE = "/api/v1/face/generateTemplateFromImage"


@dataclass
class Server:
    """A running ``faceproof serve`` (bench/serving.py's ``running_server``) and what these
    tests ask of it."""

    proc: subprocess.Popen[bytes]
    port: int
    prom: Path  # the PROMETHEUS_MULTIPROC_DIR given to serve (it makes its own dir inside)
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(
        self, path: str, timeout: float = 10, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (names lower-cased) and body, over a fresh connection."""
        req = urllib.request.Request(
            self.url + path, headers={"Connection": "close"}, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, _lower(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, _lower(e.headers), e.read()

    def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, _lower(r.headers), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, _lower(e.headers), json.loads(e.read())

    def metric(self, name: str, **labels: str) -> float:
        status, _, body = self.get("/metrics")
        assert status == 200
        total = 0.0
        for line in body.decode().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@contextlib.contextmanager
def serve(tmp_path: Path, workers: int, **env_extra: str) -> Iterator[Server]:
    """``faceproof serve --workers N`` on a free port, every worker up, the given settings."""
    prom = tmp_path / "prom"
    prom.mkdir(exist_ok=True)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(prom), **env_extra}
    with running_server(workers=workers, model_dir=model_dir(), env_extra=env) as served:
        yield Server(served.proc, served.port, prom, served.data_dir)


def _frame_b64() -> str:
    if not LIVE_VIDEO.is_file():
        pytest.skip("live video not present")
    return base64.b64encode(encode(video_frames()[3])).decode()


def _generate_body() -> dict[str, str]:
    """A request answered 200 with templates (quality gate off: the frame is a webcam's)."""
    return {"image": _frame_b64(), "qualityMode": "DISABLED"}


def _partial_post(port: int, path: str, body: bytes, sent: int) -> socket.socket:
    """Opens a request and sends its headers and the first ``sent`` bytes of its body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:sent])
    return sock


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


def _time_answers_per_worker(private: Path) -> dict[str, float]:
    """Each worker's own count of POST /api/v1/time answers, read from its files alone."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    counts = {}
    for path in private.glob("counter_*.db"):
        pid = path.stem.split("_", 1)[1]
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(path, Path(alone) / path.name)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=alone)
            counts[pid] = sum(
                sample.value
                for family in registry.collect()
                for sample in family.samples
                if sample.name == "faceproof_http_requests_total"
                and sample.labels.get("endpoint") == "/api/v1/time"
            )
    return counts


def _private_dirs(served: Server) -> list[Path]:
    return [p for p in served.prom.iterdir() if p.name.startswith("faceproof-metrics-")]


# -- workers and /metrics ---------------------------------------------------------------------


@pytest.mark.models
def test_metrics_count_requests_of_every_worker(tmp_path: Path, models_path: Path) -> None:
    with serve(tmp_path, 2) as served:
        (private,) = _private_dirs(served)
        # Fresh connections, a few at a time, until both workers have answered some (the
        # kernel hands each connection to whichever worker accepts first).
        sent = 0
        per_worker: dict[str, float] = {}
        with ThreadPoolExecutor(4) as pool:
            while sent < 1000 and (len(per_worker) < 2 or min(per_worker.values()) == 0):
                codes = list(
                    pool.map(lambda _: served.get("/api/v1/time", method="POST")[0], range(40))
                )
                assert codes == [200] * 40
                sent += 40
                per_worker = _time_answers_per_worker(private)
        assert len(per_worker) == 2 and min(per_worker.values()) > 0, per_worker
        assert sum(per_worker.values()) == sent
        # One scrape, served by one worker, counts the answers of both.
        assert (
            served.metric("faceproof_http_requests_total", endpoint="/api/v1/time", status="200")
            == sent
        )
        assert (
            served.metric("faceproof_http_request_duration_seconds_count", endpoint="/api/v1/time")
            == sent
        )
        _, headers, body = served.get("/metrics")
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        # The unlabelled gauges exist before any compute request (labelled families appear
        # with their first sample: multi-process mode keeps no empty families).
        for family in ("faceproof_queue_depth", "faceproof_requests_in_flight"):
            assert f"# TYPE {family} gauge" in body.decode(), family
        proc = served.proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert not private.exists()  # the private multi-process dir is removed at exit


@pytest.mark.models
def test_metrics_are_not_public(tmp_path: Path, models_path: Path) -> None:
    with serve(
        tmp_path,
        1,
        FACEPROOF_METRICS_ALLOW="192.0.2.0/24",
        FACEPROOF_METRICS_TOKEN="s3cret-token",
    ) as served:
        status, _, body = served.get("/metrics")  # loopback is not allowed here
        assert status == 404 and json.loads(body)["message"] == "ERROR_NOT_FOUND"
        req = urllib.request.Request(
            served.url + "/metrics", headers={"Authorization": "Bearer s3cret-token"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and b"faceproof_http_requests_total" in r.read()
        # Scrapes are never billed: no ledger row, no refid action of their own.
        req = urllib.request.Request(served.url + "/metrics", headers={"Authorization": "Bearer x"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=10)


# -- the bounded queue --------------------------------------------------------------------------


@pytest.mark.models
def test_full_queue_answers_503_with_retry_after(tmp_path: Path, models_path: Path) -> None:
    body = json.dumps(_generate_body()).encode()
    with serve(tmp_path, 1, FACEPROOF_WORKER_THREADS="2", FACEPROOF_QUEUE_SIZE="0") as served:
        # Two compute requests admitted (their bodies still arriving): the worker is full.
        held = [_partial_post(served.port, GENERATE, body, 100) for _ in range(2)]
        deadline = time.monotonic() + 30
        while served.metric("faceproof_requests_in_flight") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        status, headers, answer = served.post_json(GENERATE, _generate_body())
        assert status == 503
        assert answer["code"] == 500 and answer["feedbackCode"] == "ERROR_SERVER_BUSY"
        assert answer["refid"].startswith("W-face-GENERATE-")
        assert 1 <= int(headers["retry-after"]) <= 30
        # Cheap requests are never queued.
        assert served.get("/api/v1/face_health")[0] == 200
        assert served.metric("faceproof_rejected_total", reason="busy") == 1
        # The held requests finish; then the next one is admitted and answered.
        for sock in held:
            sock.sendall(body[100:])
            status_held, answer_held = _read_response(sock)
            sock.close()
            assert status_held == 200, answer_held[:300]
        status, _, answer = served.post_json(GENERATE, _generate_body())
        assert status == 200, answer
        assert served.metric("faceproof_requests_in_flight") == 0
        # Three decisions (the level asked for: qualityMode), and the models' own time.
        assert served.metric("faceproof_decisions_total", endpoint=GENERATE, level="DISABLED") == 3
        assert served.metric("faceproof_model_inference_seconds_count", model="MobileFaceNet") >= 3
        assert (
            served.metric(
                "faceproof_http_requests_total", endpoint=GENERATE, status="503", code="500"
            )
            == 1
        )
        # The busy answer did no work and is not in the ledger; the three answered ones are.
        with sqlite3.connect(served.data_dir / "ledger.sqlite3") as conn:
            codes = sorted(r[0] for r in conn.execute("SELECT http_status FROM transactions"))
        assert codes == [200, 200, 200]


# -- graceful shutdown --------------------------------------------------------------------------


@pytest.mark.models
def test_sigterm_finishes_in_flight_requests_and_stops_accepting(
    tmp_path: Path, models_path: Path
) -> None:
    body = json.dumps(_generate_body()).encode()
    with serve(tmp_path, 2, FACEPROOF_SHUTDOWN_TIMEOUT_SECONDS="30") as served:
        (private,) = _private_dirs(served)
        sock = _partial_post(served.port, GENERATE, body, len(body) // 2)
        time.sleep(0.5)
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)
        # No new request is served any more.
        with pytest.raises(OSError):
            served.get("/api/v1/face_health", timeout=3)
        # The one in flight completes with its full answer.
        sock.sendall(body[len(body) // 2 :])
        status, answer = _read_response(sock)
        sock.close()
        assert status == 200, answer[:300]
        answered = json.loads(answer)
        assert answered["code"] == 200 and answered["feedbackCode"] == "FEEDBACK_CAPTURED"
        assert served.proc.wait(60) == 0
        assert time.monotonic() - started < 30
    assert not private.exists()


@pytest.mark.models
def test_shutdown_waits_no_longer_than_its_timeout(tmp_path: Path, models_path: Path) -> None:
    with serve(tmp_path, 1, FACEPROOF_SHUTDOWN_TIMEOUT_SECONDS="2") as served:
        sock = _partial_post(served.port, GENERATE, b"{" + b" " * 5000 + b"}", 10)  # stalls
        time.sleep(0.5)
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        served.proc.wait(30)
        took = time.monotonic() - started
        sock.close()
    assert 1.5 <= took < 15, took


# -- defaults and the event loop ----------------------------------------------------------------


def test_default_workers_follow_usable_cores_and_cgroup_quota(tmp_path: Path) -> None:
    from faceproof.cli.serve import _cgroup_cpu_quota, usable_cores

    (tmp_path / "cpu.max").write_text("250000 100000\n")
    assert _cgroup_cpu_quota(tmp_path) == 2.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _cgroup_cpu_quota(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_cpu_quota(v1) is None
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    assert _cgroup_cpu_quota(v1) == 1.0
    cores = usable_cores()
    assert 1 <= cores <= len(os.sched_getaffinity(0))
    from faceproof.config import load_settings

    assert load_settings().workers == 0  # the default: one per usable core


def test_no_endpoint_runs_on_the_event_loop(make_settings: Any) -> None:
    """Every API endpoint is a plain function (FastAPI runs it in the worker's thread pool)
    or a coroutine that hands its work to the pool; a new ``async def`` endpoint that
    computes on the loop would stall every request of its worker."""
    from fastapi.routing import APIRoute

    from faceproof.api.app import create_app

    offloading = {"identify"}  # reads the body, then run_in_threadpool (identification.py)
    app = create_app(make_settings())
    coroutines = {
        route.endpoint.__name__
        for route in app.routes
        if isinstance(route, APIRoute) and asyncio.iscoroutinefunction(route.endpoint)
    }
    assert coroutines <= offloading, coroutines - offloading
    import inspect

    from faceproof.api.routers import identification

    assert "run_in_threadpool" in inspect.getsource(identification.identify)


def test_a_dead_workers_live_gauges_are_forgotten(tmp_path: Path) -> None:
    """A worker killed without a clean shutdown leaves its live gauge files; the next
    worker's first metrics call drops them (its counters stay: they are history)."""
    from faceproof.api.metrics import forget_dead_workers

    child = subprocess.Popen(["true"])
    child.wait()  # a pid that no longer runs
    alive = os.getpid()
    for name in (
        f"gauge_livesum_{child.pid}.db",
        f"counter_{child.pid}.db",
        f"gauge_livesum_{alive}.db",
    ):
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_workers(tmp_path) == [child.pid]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{child.pid}.db", f"gauge_livesum_{alive}.db"]
    )
