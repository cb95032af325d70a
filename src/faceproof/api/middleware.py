"""Cross-cutting request handling: size limit, origin allow-list, request log, ledger, 500s.

Order (outermost first): body size limit → request context (refid, origin check, catch-all,
log line, ledger row, ``Server-Timing``). The ledger row is written before the response
leaves, so an acknowledged request is always on record.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faceproof.api.errors import error_response, request_refid
from faceproof.api.routes import route_info
from faceproof.errors import ApiError, Err

log = logging.getLogger("faceproof.request")


class BodyTooLarge(ApiError):
    """Raised from inside ``receive`` so any handler reading the body stops at once."""

    def __init__(self, limit: int) -> None:
        super().__init__(Err.PAYLOAD_TOO_LARGE, f"Request body larger than {limit} bytes")


class BodySizeLimit:
    """Refuses bodies above the limit, whether or not Content-Length is declared."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes or declared < 0:
                    await self._refuse(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        err = ApiError(Err.PAYLOAD_TOO_LARGE, f"Request body larger than {self.max_bytes} bytes")
        response = error_response(request, err)
        await response(scope, receive, send)


class RequestContext:
    """Refid, origin check, catch-all error, structured log line, ledger row, timing headers.

    Plain ASGI (no per-request task group or body streams): the handler's response start is
    intercepted, the ledger row written and the headers added before anything is sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        cpu_started = time.process_time()
        request = Request(scope, receive)
        info = route_info(request.url.path)
        request_refid(request)
        services = request.app.state.services
        state = {"started": False, "replaced": False}

        async def send_wrapper(message: Message) -> None:
            if state["replaced"]:
                return  # the original response was swapped for an error; drop its body
            if message["type"] != "http.response.start":
                await send(message)
                return
            status = int(message["status"])
            latency_ms = (time.perf_counter() - started) * 1000
            outcome = getattr(request.state, "outcome", None) or (status, "OK")
            if info.billed and request.method == "POST":
                recorded = await self._record(
                    request, services, info.action, outcome, status, latency_ms
                )
                if not recorded:
                    state["replaced"] = True
                    outcome = (Err.SERVER_INTERNAL.value.code, Err.SERVER_INTERNAL.value.name)
                    failure = error_response(request, ApiError(Err.SERVER_INTERNAL))
                    failure.headers["X-Refid"] = request.state.refid
                    failure.headers["Server-Timing"] = server_timing(started, cpu_started)
                    self._log(request, outcome, failure.status_code, latency_ms)
                    state["started"] = True
                    await failure(scope, receive, send)
                    return
            self._log(request, outcome, status, latency_ms)
            headers = MutableHeaders(scope=message)
            headers["X-Refid"] = request.state.refid
            headers["Server-Timing"] = server_timing(started, cpu_started)
            state["started"] = True
            await send(message)

        try:
            if request.url.path.startswith("/api/"):
                self._check_origin(request, services)
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if state["started"]:
                raise  # headers already left: nothing sensible can be sent any more
            api_error = _find_api_error(exc)
            response = (
                error_response(request, api_error)
                if api_error is not None
                else self._internal(request, exc)
            )
            await response(scope, receive, send_wrapper)

    @staticmethod
    def _internal(request: Request, exc: BaseException) -> Response:
        log.error(
            json.dumps(
                {
                    "event": "unhandled_error",
                    "refid": request.state.refid,
                    "error_type": type(exc).__name__,
                }
            )
        )
        return error_response(request, ApiError(Err.SERVER_INTERNAL))

    @staticmethod
    def _check_origin(request: Request, services: Any) -> None:
        from faceproof.license import origin_allowed

        ok, reason = origin_allowed(
            request.headers.get("origin"),
            request.headers.get("referer"),
            services.deployment,
            services.settings.allow_no_origin,
        )
        if not ok:
            raise ApiError(Err.INVALID_JSON, reason)

    @staticmethod
    async def _record(
        request: Request,
        services: Any,
        action: str,
        outcome: tuple[int, str],
        status: int,
        latency_ms: float,
    ) -> bool:
        from faceproof.ledger.base import Transaction

        extra: dict[str, Any] = getattr(request.state, "ledger", {}) or {}
        tx = Transaction(
            refid=request.state.refid,
            action=action,
            ts_ms=int(time.time() * 1000),
            outcome=outcome[1],
            code=outcome[0],
            http_status=status,
            endpoint=request.url.path,
            latency_ms=round(latency_ms, 2),
            security_level_requested=extra.get("level_requested"),
            security_level_reached=extra.get("level_reached"),
            quality=extra.get("quality"),
            device_type=extra.get("device_type"),
            request_id=request.headers.get("requestid"),
        )
        try:
            await anyio.to_thread.run_sync(services.ledger.record, tx)
        except Exception as exc:
            # An unrecorded billed request must not be acknowledged as done.
            log.error(
                json.dumps(
                    {
                        "event": "ledger_write_failed",
                        "refid": tx.refid,
                        "error_type": type(exc).__name__,
                    }
                )
            )
            return False
        return True

    @staticmethod
    def _log(request: Request, outcome: tuple[int, str], status: int, latency_ms: float) -> None:
        trigger = request.headers.get("logapitrigger", "").lower() == "true"
        request_id = request.headers.get("requestid")
        if not (trigger or request_id or log.isEnabledFor(logging.DEBUG)):
            return
        line = {
            "event": "request",
            "refid": request.state.refid,
            "requestID": request_id,
            "endpoint": request.url.path,
            "method": request.method,
            "code": outcome[0],
            "outcome": outcome[1],
            "http_status": status,
            "latency_ms": round(latency_ms, 2),
        }
        log.log(logging.INFO if (trigger or request_id) else logging.DEBUG, json.dumps(line))


def server_timing(started: float, cpu_started: float) -> str:
    """``Server-Timing`` value: ``app`` wall ms and ``cpu`` process CPU ms since the start.

    Both cover the request from this middleware's entry to its ledger row: body read and
    parse, handler, JSON rendering, ledger write; not the socket I/O and HTTP framing around
    it. ``cpu`` is the worker process's CPU time (every thread) over that interval, so it is
    this request's CPU only while requests do not overlap in the worker, as in
    ``bench/bench_pipeline.py`` (sequential requests, one worker). Under concurrent load it
    includes the other requests' work and is an upper bound.
    """
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu_started) * 1000
    return f"app;dur={wall_ms:.2f}, cpu;dur={cpu_ms:.2f}"


def _find_api_error(exc: BaseException) -> ApiError | None:
    """Our error inside an ExceptionGroup (task groups wrap what handlers raise)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find_api_error(inner)
            if found is not None:
                return found
    return None


def json_ok(request: Request, body: dict[str, Any], name: str, code: int = 200) -> JSONResponse:
    """A success body; records the outcome for the log line and the ledger."""
    request.state.outcome = (code, name)
    return JSONResponse(body)
