"""``faceproof serve``: checks the deployment, then runs uvicorn with bounded resources.

What bounds a worker (docs/deployment.md, "Limits"):

* **native thread pools and allocator**: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` = 1 (each worker is one core's worth of work; the models already run
  single-threaded) and ``MALLOC_ARENA_MAX=2`` (glibc otherwise gives each thread that
  allocates its own arena, up to 8 per core, and memory freed in one is never reused by
  another). They must be in the environment before the interpreter loads numpy and glibc
  reads them at process start, so ``serve`` re-executes itself once with them set (values an
  operator already set are kept).
* **request threads and models**: the anyio thread pool that runs the endpoints is capped
  at ``FACEPROOF_WORKER_THREADS`` per worker (anyio's default is 40 threads), and each
  model at ``FACEPROOF_MODEL_INSTANCES`` interpreters (:mod:`faceproof.models.runtime`).
* **freed memory goes back**: every ``TRIM_SECONDS`` the worker asks glibc to return free
  heap pages to the system (``malloc_trim``), which fragmentation otherwise keeps.
* **connections**: idle, header and body timeouts and a header size cap
  (:mod:`faceproof.api.http_protocol`), ``FACEPROOF_MAX_CONNECTIONS`` per worker
  (uvicorn's ``limit_concurrency``: beyond it a request is answered 503).

And how it serves (docs/deployment.md, "Serving"):

* **workers**: ``FACEPROOF_WORKERS`` processes; 0 (the default) means one per usable core:
  the CPUs this process may run on, capped by a cgroup CPU quota (a container limited to 2
  CPUs on a 64-core host gets 2 workers, not 64). Each worker runs its requests' inference
  in its thread pool, never on the event loop.
* **bounded queue**: per worker, ``FACEPROOF_QUEUE_SIZE`` compute requests may wait beyond
  the running ones; more are answered 503 ``ERROR_SERVER_BUSY`` with ``Retry-After``
  (:mod:`faceproof.api.admission`).
* **graceful shutdown**: on SIGTERM (or SIGINT) uvicorn stops accepting connections, lets
  in-flight requests finish for up to ``FACEPROOF_SHUTDOWN_TIMEOUT_SECONDS``, then exits.
* **metrics**: a private ``PROMETHEUS_MULTIPROC_DIR`` is made before the workers fork (so
  ``/metrics`` sums all of them) and removed when the server exits (:mod:`faceproof.api.metrics`).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from anyio import to_thread

from faceproof.config import ConfigError, Settings, load_settings
from faceproof.logging_setup import configure_logging, native_stderr_as_json, uvicorn_log_config
from faceproof.models.runtime import TFLiteModel

#: Environment every server process starts with (an operator's own value wins).
PINNED_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}
_REEXEC_MARK = "FACEPROOF_SERVE_PINNED"
TRIM_SECONDS = 30.0
HTTP_PROTOCOL = "faceproof.api.http_protocol:GuardedHttpToolsProtocol"


@click.command()
@click.option("--host", default=None, help="Bind address (env FACEPROOF_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (env FACEPROOF_PORT, default 8080).")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes (env FACEPROOF_WORKERS); 0, the default: one per usable core.",
)
@click.option(
    "--data-dir", default=None, help="Data dir for keys, ledger, models (FACEPROOF_DATA_DIR)."
)
def serve(host: str | None, port: int | None, workers: int | None, data_dir: str | None) -> None:
    """Run the HTTP server."""
    for env, value in (
        ("FACEPROOF_HOST", host),
        ("FACEPROOF_PORT", port),
        ("FACEPROOF_WORKERS", workers),
        ("FACEPROOF_DATA_DIR", data_dir),
    ):
        if value is not None:
            os.environ[env] = str(value)
    _reexec_with_pinned_env()
    metrics_dir = _private_metrics_dir()
    try:
        _serve()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve() -> None:
    try:
        with native_stderr_as_json():  # LiteRT's C++ start-up line, as JSON
            settings = load_settings()
            # Fail fast with one line, before forking workers.
            # lazy: the API (fastapi, ~0.5 s) loads only for `faceproof serve`
            from faceproof.api.deps import build_services

            services = build_services(settings)
    except ConfigError as exc:
        click.echo(f"faceproof: {exc}", err=True)
        sys.exit(2)
    _export_limits(settings)
    # lazy: uvicorn and the API (fastapi, ~0.5 s) load only for `faceproof serve`
    import uvicorn

    from faceproof.api import http_protocol

    http_protocol.from_env()
    http = HTTP_PROTOCOL
    changed = http_protocol.incompatibility()
    if changed is not None:
        configure_logging(settings.log_level)
        http = "httptools"  # uvicorn's own: served, without the connection time limits
        logging.getLogger("faceproof").warning(
            json.dumps({"event": "http_protocol_fallback", "reason": changed})
        )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "log_config": uvicorn_log_config(settings.log_level),  # JSON lines, as ours
        "access_log": False,  # our own access line: logging_setup.AccessLog
        "server_header": False,
        "http": http,
        "timeout_keep_alive": max(1, math.ceil(settings.keep_alive_seconds)),
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": max(1, math.ceil(settings.shutdown_timeout_seconds)),
    }
    workers = settings.workers or usable_cores()
    if workers == 1:
        # One process: serve with the services just checked instead of building them again.
        # lazy: the API (fastapi, ~0.5 s) loads only for `faceproof serve`
        from faceproof.api.app import create_app

        _limit_models(settings)
        uvicorn.run(WorkerLimits(create_app(settings, services), settings), **options)
        return
    services.close()  # each worker process builds its own
    uvicorn.run("faceproof.cli.serve:worker_app", factory=True, workers=workers, **options)


def usable_cores() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota in cores (cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_*``), None if none."""
    try:
        fields = (root / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _private_metrics_dir() -> str:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for this server's workers (inside an operator's
    own, when one is set), exported before anything imports prometheus-client."""
    from faceproof.api.metrics import MULTIPROC_ENV  # lazy: CLI start-up cost

    parent = os.environ.get(MULTIPROC_ENV) or None
    path = tempfile.mkdtemp(prefix="faceproof-metrics-", dir=parent)
    os.environ[MULTIPROC_ENV] = path
    return path


def _reexec_with_pinned_env() -> None:
    """Restarts this command once with :data:`PINNED_ENV` in place (same pid, same args)."""
    missing = {k: v for k, v in PINNED_ENV.items() if k not in os.environ}
    if not missing or os.environ.get(_REEXEC_MARK) == "1":
        return
    env = {**os.environ, **missing, _REEXEC_MARK: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "faceproof", "serve"], env)


def _export_limits(settings: Settings) -> None:
    """Connection limits into the environment, where every worker process reads them."""
    # lazy: uvicorn (~0.1 s) loads only for `faceproof serve`
    from faceproof.api.http_protocol import ENV

    for attr, name in ENV.items():
        os.environ[name] = str(getattr(settings, f"{attr}_seconds"))


def worker_app() -> Any:
    """uvicorn's factory in each worker process: the app, with the worker's limits."""
    # lazy: the API (fastapi, ~0.5 s) loads only for `faceproof serve`
    from faceproof.api.app import create_app

    settings = load_settings()
    _limit_models(settings)
    with native_stderr_as_json():
        app = create_app(settings)
    return WorkerLimits(app, settings)


def _limit_models(settings: Settings) -> None:
    TFLiteModel.max_instances = settings.model_instances


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None elsewhere (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


class WorkerLimits:
    """ASGI wrapper that applies the worker's limits inside its event loop, on the first
    event it sees: the anyio thread pool cap (the limiter is per loop) and the periodic
    ``malloc_trim``."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.threads = settings.worker_threads
        self._done = False
        self._trim = _malloc_trim()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # state, openapi, ... of the wrapped app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._done:
            self._done = True

            to_thread.current_default_thread_limiter().total_tokens = self.threads
            if self._trim is not None:
                asyncio.get_running_loop().call_later(TRIM_SECONDS, self._trim_later)
        await self.app(scope, receive, send)

    def _trim_later(self) -> None:
        self._trim(0)  # a few milliseconds, on the loop thread
        asyncio.get_running_loop().call_later(TRIM_SECONDS, self._trim_later)
