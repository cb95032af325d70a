"""Cross-cutting request handling: size limit, origin allow-list and CORS, log, ledger, 500s.

Order (outermost first): body size limit → request context (refid, origin check, CORS,
bounded queue, abuse limits, catch-all, log line, ledger row, metrics, ``Server-Timing``).
The ledger row is written before the response leaves, so an acknowledged request is always
on record; a request refused by the full queue (503 ``ERROR_SERVER_BUSY``) did no work and
has no row, nor one refused because a store is down (503 ``ERROR_STORE_UNAVAILABLE``: a
ledger that cannot record answers that too, never the withheld result).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faceproof.api.abuse import CHALLENGE_PATH, FAILED_OUTCOMES, LIVENESS_PATHS, LimitExceeded
from faceproof.api.admission import check_stores
from faceproof.api.errors import error_response, request_refid
from faceproof.api.metrics import metrics, observe
from faceproof.api.routes import API, route_info
from faceproof.attempt_context import current as _current_attempt
from faceproof.errors import ApiError, Err, Problem, problem
from faceproof.ledger.base import Transaction
from faceproof.license import origin_allowed
from faceproof.storage.outage import WITHHELD, StoreUnavailable

log = logging.getLogger("faceproof.request")

#: Scope key set by BodySizeLimit once a body is known to exceed the limit (value: the limit).
TOO_LARGE = "faceproof.body_too_large"
#: Scope key: the answer's (code, name), read by the access line (logging_setup.AccessLog).
OUTCOME = "faceproof.outcome"

#: Request headers a cross-origin page may send (the reference's, plus Content-Type).
CORS_ALLOW_HEADERS = ("Content-Type", "LogAPITrigger", "requestID")
#: Response headers a cross-origin page may read.
CORS_EXPOSE_HEADERS = "X-Refid, Server-Timing, Retry-After"
#: Preflight cache lifetime: Chromium's cap. Safe to be long, because every actual response
#: is checked again and carries CORS headers only while its origin is still allowed.
CORS_MAX_AGE_S = 7200


class BodyTooLarge(ApiError):
    """Raised from inside ``receive`` so any handler reading the body stops at once."""

    def __init__(self, limit: int) -> None:
        answer = problem(Problem.BODY_TOO_LARGE, limit=limit)
        super().__init__(Err.PAYLOAD_TOO_LARGE, answer.description)


class BodySizeLimit:
    """Bodies above the limit are answered 413, whether or not Content-Length is declared.

    A declared length over the limit is known before anything is read; a chunked (or
    under-declared) body is counted as it streams in, and the read that crosses the limit
    raises. Either way the scope is marked (``TOO_LARGE``) and ``RequestContext`` answers
    413 in the documented body, whatever the handler made of the interrupted read (FastAPI
    turns a failed form read into a generic 400).
    """

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
                    scope[TOO_LARGE] = self.max_bytes
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if TOO_LARGE in scope:
                raise BodyTooLarge(self.max_bytes)  # never read (more of) the socket
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope[TOO_LARGE] = self.max_bytes
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


def _too_large(scope: Scope) -> ApiError | None:
    limit = scope.get(TOO_LARGE)
    return None if limit is None else BodyTooLarge(int(limit))


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
        is_api = request.url.path.startswith("/api/")
        if is_api and request.method == "OPTIONS":
            await self._options(request, scope, receive, send)
            return
        info = route_info(request.url.path)
        request_refid(request)
        services = request.app.state.services
        state = {"started": False, "replaced": False, "body_read": False}
        cors_origin: str | None = None
        app_state = request.app.state
        admission: Any = getattr(app_state, "admission", None)
        abuse: Any = getattr(app_state, "abuse", None)
        compute = info.billed and request.method == "POST" and admission is not None
        admitted = False
        attempt = None
        refusal: dict[str, int] = {}  # {"retry_after": s} once a limit refused the request

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                state["body_read"] = True
            return message

        async def finish(message: Message) -> None:
            """The response as it leaves: ledger row, log line, headers."""
            if message["type"] != "http.response.start":
                await send(message)
                return
            status = int(message["status"])
            latency_ms = (time.perf_counter() - started) * 1000
            outcome = getattr(request.state, "outcome", None) or (status, "OK")
            if attempt is not None and outcome[1] in FAILED_OUTCOMES:
                await _counters_call(attempt.limits.record_failure, attempt)
            retry_after = refusal.get("retry_after") or (
                attempt.retry_after_header if attempt is not None else None
            )
            if outcome[1] in _REFUSALS:  # the device limit is raised inside the handler
                _rejected(outcome[1])
            if info.billed and request.method == "POST" and outcome[1] not in _UNRECORDED:
                refused = await self._record(
                    request, services, info.action, outcome, status, latency_ms
                )
                if refused is not None:
                    state["replaced"] = True
                    outcome = (refused.kind.code, refused.kind.name)
                    failure = error_response(request, refused)
                    failure.headers["X-Refid"] = request.state.refid
                    failure.headers["Server-Timing"] = server_timing(started, cpu_started)
                    if is_api:
                        _cors_headers(failure.headers, cors_origin)
                    scope[OUTCOME] = outcome
                    _observe(request, info, outcome, failure.status_code, latency_ms)
                    state["started"] = True
                    await failure(scope, receive, send)
                    return
            scope[OUTCOME] = outcome  # for the one access line (logging_setup.AccessLog)
            _observe(request, info, outcome, status, latency_ms)
            headers = MutableHeaders(scope=message)
            headers["X-Refid"] = request.state.refid
            headers["Server-Timing"] = server_timing(started, cpu_started)
            if retry_after and status in (429, 503):
                headers["Retry-After"] = str(retry_after)
            if is_api:
                _cors_headers(headers, cors_origin)
            if status == 413:
                headers["Connection"] = "close"  # the rest of the body is never read
            state["started"] = True
            await send(message)

        async def send_wrapper(message: Message) -> None:
            if state["replaced"]:
                return  # the original response was swapped for an error; drop its body
            if (
                is_api
                and message["type"] == "http.response.start"
                and int(message["status"]) < 400
                and not state["body_read"]
            ):
                # An API success sent without reading the whole body: count the rest
                # (discarded, never kept) so an oversized body is 413 on every endpoint.
                # Refusals go out at once; the server discards whatever body follows.
                try:
                    while not state["body_read"] and TOO_LARGE not in scope:
                        await tracked_receive()
                except BodyTooLarge:
                    pass
            too_large = _too_large(scope)
            if (
                message["type"] == "http.response.start"
                and too_large is not None
                and int(message["status"]) != 413
            ):
                # The handler answered an interrupted body read its own way (FastAPI: 400).
                state["replaced"] = True
                await error_response(request, too_large)(scope, receive, finish)
                return
            await finish(message)

        token = None
        try:
            if is_api:
                cors_origin = self._check_origin(request, services)
            too_large = _too_large(scope)
            if too_large is not None:
                raise too_large  # declared Content-Length over the limit: nothing is read
            if compute:
                # A store it needs is down: 503 before the body is read, nothing used.
                await check_stores(request.headers.get("content-type", ""))
                if not admission.try_enter():
                    raise LimitExceeded(Err.SERVER_BUSY, admission.retry_after())
                admitted = True
            if abuse is not None and request.method == "POST":
                path = request.url.path.rstrip("/")
                if path in LIVENESS_PATHS:
                    attempt = await _counters_call(abuse.begin_attempt, scope, cors_origin)
                    token = _current_attempt.set(attempt)
                elif path == CHALLENGE_PATH:
                    await _counters_call(abuse.acquire_challenge, scope)
            await self.app(scope, tracked_receive, send_wrapper)
        except Exception as exc:
            if state["started"]:
                raise  # headers already left: nothing sensible can be sent any more
            api_error = _too_large(scope) or _find_api_error(exc)
            if api_error is not None and api_error.retry_after is not None:
                refusal["retry_after"] = api_error.retry_after  # 429, 503 busy or store
            response = (
                error_response(request, api_error)
                if api_error is not None
                else self._internal(request, exc)
            )
            await response(scope, receive, send_wrapper)
        finally:
            if token is not None:
                _current_attempt.reset(token)
            if admitted:
                admission.leave(started)

    async def _options(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        """``OPTIONS`` on an API path: the CORS preflight. Not billed, no ledger row.

        Known path and allowed origin: 204 with the path's methods, the allowed request
        headers and the cache lifetime. A refused origin gets the documented origin error
        and no CORS header (the browser then blocks the real request); an unknown path 404.
        """
        request_refid(request)
        services = request.app.state.services
        methods = _api_methods(scope, request.url.path)
        try:
            cors_origin = self._check_origin(request, services)
            if methods is None:
                raise ApiError(Err.NOT_FOUND)
        except ApiError as exc:
            response: Response = error_response(request, exc)
            response.headers["X-Refid"] = request.state.refid
            _cors_headers(response.headers, None)
            await response(scope, receive, send)
            return
        allow = ", ".join([*methods, "OPTIONS"])
        response = Response(status_code=204, headers={"Allow": allow})
        _cors_headers(response.headers, cors_origin)
        if cors_origin is not None:
            names = [*CORS_ALLOW_HEADERS, *services.settings.cors_extra_headers]
            response.headers["Access-Control-Allow-Methods"] = allow
            response.headers["Access-Control-Allow-Headers"] = ", ".join(names)
            response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
            if request.headers.get("access-control-request-private-network", "") == "true":
                # Chromium's Private Network Access: a public page calling a server on a
                # private address; the origin is allowed, so the private network is too.
                response.headers["Access-Control-Allow-Private-Network"] = "true"
        await response(scope, receive, send)

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
    def _check_origin(request: Request, services: Any) -> str | None:
        """Raises the documented origin error; returns the origin to grant CORS, if any.

        CORS is granted to the exact ``Origin`` a browser sent when it is allowed (never
        ``*``, never to a Referer-only request, which is same-origin or not a fetch).
        """
        origin = request.headers.get("origin")
        ok, reason = origin_allowed(
            origin,
            request.headers.get("referer"),
            services.deployment,
            services.settings.allow_no_origin,
        )
        if not ok:
            raise ApiError(Err.INVALID_JSON, reason)
        return origin.strip() if origin and origin.strip() else None

    @staticmethod
    async def _record(
        request: Request,
        services: Any,
        action: str,
        outcome: tuple[int, str],
        status: int,
        latency_ms: float,
    ) -> ApiError | None:
        """Writes the ledger row; the answer to send instead when it cannot be written."""
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
        except StoreUnavailable as exc:
            # The ledger's database is down (logged once by storage/outage.py): 503.
            return exc.saying(WITHHELD)
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
            return ApiError(Err.SERVER_INTERNAL)
        return None


BUSY = Err.SERVER_BUSY.value.name
#: Refusals that did no billable work: no ledger row.
_UNRECORDED = (BUSY, Err.STORE_UNAVAILABLE.value.name)
_counter_limiter: dict[int, anyio.CapacityLimiter] = {}


async def _counters_call(fn: Any, *args: Any) -> Any:
    """Runs an abuse-counter operation (SQLite or Redis: short, blocking) in a thread of its
    own small pool, so it never waits behind the compute requests holding the main pool."""
    loop = id(asyncio.get_running_loop())
    limiter = _counter_limiter.get(loop)
    if limiter is None:
        limiter = _counter_limiter[loop] = anyio.CapacityLimiter(2)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


#: Refusals (documented name -> ``faceproof_rejected_total`` reason): before any work, and
#: a store not answering (mostly before any work; docs/api-decisions.md).
_REFUSALS = {
    BUSY: "busy",
    Err.TOO_MANY_ATTEMPTS.value.name: "attempts",
    Err.TOO_MANY_REQUESTS.value.name: "challenges",
    Err.STORE_UNAVAILABLE.value.name: "store",
}


def _rejected(name: str) -> None:
    metrics().rejected.labels(_REFUSALS[name]).inc()


def _observe(
    request: Request, info: Any, outcome: tuple[int, str], status: int, latency_ms: float
) -> None:
    extra: dict[str, Any] = getattr(request.state, "ledger", {}) or {}
    decision = info.billed and request.method == "POST" and outcome[0] in (200, 401)
    observe(
        request.url.path,
        request.method,
        status,
        outcome[0],
        latency_ms / 1000,
        outcome[1],
        extra.get("level_requested"),
        decision,
    )


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


def _cors_headers(headers: MutableHeaders, origin: str | None) -> None:
    """``Vary: Origin`` on every API answer (it depends on the Origin); the grant if any."""
    headers.add_vary_header("Origin")
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS


def _api_methods(scope: Scope, path: str) -> list[str] | None:
    """The methods the app serves on an API path, None when it serves none.

    Asked of the router itself (a route matches FULL only with its own method), so the
    answer follows the routes as they are, included routers and all.
    """
    app = scope.get("app")
    router = getattr(app, "router", None)
    if not path.startswith(API + "/") or router is None:
        return None
    methods = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**scope, "method": method, "path": path}
        if any(route.matches(probe)[0] == Match.FULL for route in router.routes):
            methods.append(method)
    return methods or None


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
