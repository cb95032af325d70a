"""Prometheus metrics: requests, latency, decisions, model inference time, queue depth.

``faceproof serve`` runs several worker processes; prometheus-client's multi-process mode
makes ``/metrics`` answer for all of them whichever worker serves the scrape: each process
writes its samples to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (a private
directory that ``serve`` creates before forking and removes at exit), and a scrape merges
them. Without that variable (tests, an app embedded elsewhere) the process's own registry
is used. The variable must be set before prometheus-client is first imported, which is why
this module is imported lazily by the app and never by ``serve`` before it sets it.

Names (docs/deployment.md, "Metrics"; the Grafana dashboard deploy/grafana/ uses them):

* ``faceproof_http_requests_total{endpoint,method,status,code}``: answers; ``code`` is the
  documented code of the body (``200`` for a success);
* ``faceproof_http_request_duration_seconds{endpoint,status}``: latency histogram (from the
  request's first byte handed to the app to its response start);
* ``faceproof_decisions_total{endpoint,level,outcome}``: biometric decisions: the level asked
  for (liveness or match level, ``qualityMode`` of generateTemplateFromImage; ``none`` when
  the request names none) and the
  documented outcome (``FEEDBACK_CAPTURED``, ``FEEDBACK_RETRY``, ``FEEDBACK_MATCHED`` …);
* ``faceproof_model_inference_seconds{model}``: one model invocation;
* ``faceproof_queue_depth`` / ``faceproof_requests_in_flight``: compute requests waiting /
  admitted, summed over live workers; ``faceproof_rejected_total{reason}``: answers refused
  by the queue bound (``busy``) or an abuse limit (``attempts``, ``challenges``).

Access: only peers in ``FACEPROOF_METRICS_ALLOW`` (loopback by default) or a request with
``Authorization: Bearer <FACEPROOF_METRICS_TOKEN>``; anyone else gets the documented 404, as
for a path that does not exist. ``/metrics`` is never billed and never in the ledger.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from faceproof import inference_timing
from faceproof.api.abuse import in_networks, parse_networks
from faceproof.api.errors import error_response
from faceproof.api.routes import API, ROUTES
from faceproof.errors import ApiError, Err

if TYPE_CHECKING:
    from faceproof.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
INFERENCE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The process's metric objects (created once; prometheus-client needs unique names)."""

    def __init__(self) -> None:
        # lazy: prometheus_client picks its multi-process mode at import (serve sets the dir first)
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "faceproof_http_requests",
            "HTTP answers by endpoint, method, HTTP status and documented code.",
            ["endpoint", "method", "status", "code"],
        )
        self.latency = Histogram(
            "faceproof_http_request_duration_seconds",
            "Time from request to response start, by endpoint and HTTP status.",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
        )
        self.decisions = Counter(
            "faceproof_decisions",
            "Biometric decisions by endpoint, requested level and documented outcome.",
            ["endpoint", "level", "outcome"],
        )
        self.inference = Histogram(
            "faceproof_model_inference_seconds",
            "One model invocation (LiteRT or onnxruntime), by model.",
            ["model"],
            buckets=INFERENCE_BUCKETS,
        )
        self.queue_depth = Gauge(
            "faceproof_queue_depth",
            "Compute requests admitted and waiting for a worker thread.",
            multiprocess_mode="livesum",
        )
        self.in_flight = Gauge(
            "faceproof_requests_in_flight",
            "Compute requests admitted (running or waiting).",
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "faceproof_rejected",
            "Requests refused: busy (queue full), attempts, challenges (before any work), "
            "store (Redis or PostgreSQL not answering).",
            ["reason"],
        )


_metrics: Metrics | None = None


def metrics() -> Metrics:
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
        inference_timing.observer = _metrics.inference.labels
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            forget_dead_workers(Path(directory))
    return _metrics


def forget_dead_workers(directory: Path) -> list[int]:
    """Drops the live gauges of workers that died without a clean shutdown (a crash, a
    kill): uvicorn starts a new worker in their place, and its first metrics call runs this,
    so ``faceproof_queue_depth`` and ``faceproof_requests_in_flight`` stop counting the dead
    one. Counters and histograms of dead workers stay: their counts are history."""
    dead = set()
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.add(pid)
        except PermissionError:
            pass  # alive, another user's
    if dead:
        from prometheus_client import multiprocess  # lazy: as in exposition

        for pid in dead:
            multiprocess.mark_process_dead(pid, str(directory))
    return sorted(dead)


def endpoint_label(path: str) -> str:
    """A bounded set of labels: known API paths as they are, the rest grouped."""
    path = path.rstrip("/") or "/"
    if path in ROUTES:
        return path
    if path.startswith(f"{API}/galleries"):
        return f"{API}/galleries"
    if path.startswith(API + "/"):
        return f"{API}/other"
    for prefix in ("/sdk", "/demo", "/docs", "/metrics"):
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return "other"


def observe(
    path: str,
    method: str,
    status: int,
    code: int,
    seconds: float,
    outcome: str,
    level: str | None,
    decision: bool,
) -> None:
    endpoint = endpoint_label(path)
    key = (endpoint, method, status, code)
    children = _children.get(key)
    if children is None:  # label lookups cost more than the updates: once per label set
        m = metrics()
        children = _children[key] = (
            m.requests.labels(endpoint, method, str(status), str(code)),
            m.latency.labels(endpoint, str(status)),
        )
    children[0].inc()
    children[1].observe(seconds)
    if decision:
        metrics().decisions.labels(endpoint, level or "none", outcome).inc()


#: (endpoint, method, status, code) -> (request counter, latency histogram) children.
_children: dict[tuple[str, str, int, int], tuple[Any, Any]] = {}


def allowed(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token
    auth = request.headers.get("authorization", "")
    if (
        token
        and auth.startswith("Bearer ")
        and hmac.compare_digest(auth[len("Bearer ") :].strip().encode(), token.encode())
    ):
        return True
    peer = request.client.host if request.client else None
    return in_networks(peer, parse_networks(settings.metrics_allow))


def exposition() -> tuple[bytes, str]:
    """The text exposition of every live worker (multi-process) or of this process, as
    format 0.0.4, which every Prometheus version reads (our names are plain ASCII, so the
    body is the same as prometheus-client's newer 1.0.0 default)."""
    # lazy: prometheus_client picks its multi-process mode at import (serve sets the dir first)
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as CONTENT_TYPE

    metrics()  # a worker that has served nothing yet still exposes the families
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess  # lazy: as above

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE
    return generate_latest(REGISTRY), CONTENT_TYPE


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics`` (not part of the API: no refid action, no ledger, not in OpenAPI)."""
    settings = request.app.state.services.settings
    if not allowed(request, settings):
        return error_response(request, ApiError(Err.NOT_FOUND))
    body, content_type = await anyio.to_thread.run_sync(exposition)
    return Response(
        body,
        media_type=content_type.split(";")[0],
        headers={"Content-Type": content_type, "Cache-Control": "no-store"},
    )


def mark_process_dead(pid: Any) -> None:
    """Drops a dead worker's live gauges (uvicorn restarts workers that die)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess  # lazy: as in exposition

        multiprocess.mark_process_dead(int(pid))
