"""uvicorn's httptools protocol with the connection time limits uvicorn lacks.

uvicorn arms its keep-alive timer only after a response, and has no header or body timeout:
a socket that connects and sends nothing, or sends its headers a byte at a time, is held
open for as long as the client likes, and each holds a slot of ``limit_concurrency``. This
subclass closes a connection that is

* **idle** (no request started) for ``keep_alive`` seconds, a fresh one included;
* still sending its request line and headers ``header_timeout`` seconds after they began,
  or whose headers exceed ``max_header_bytes`` (answered 431);
* still sending its body after ``body_timeout`` seconds of the client's time (time during
  which the server itself paused reading, busy with earlier work, does not count).

A request the app is working on is never timed out here. The limits are class attributes,
set once per process by :func:`configure` (``faceproof serve`` does it before uvicorn starts,
and each worker process reads them from the environment through :func:`from_env`).

This subclass leans on uvicorn internals that are not a public API: the parser callbacks
and asyncio hooks of ``HttpToolsProtocol``, its ``transport``, ``loop``, ``cycle``
(``response_complete``) and ``flow`` (``read_paused``). :func:`incompatibility` checks them
on the installed uvicorn; ``faceproof serve`` runs it at start-up and, if uvicorn changed,
says so in a WARNING line and serves with uvicorn's own httptools protocol (without these
time limits) rather than fail at the first request.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import time
from typing import Any, Literal

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

Phase = Literal["idle", "head", "body", "app"]

ENV = {
    "keep_alive": "FACEPROOF_KEEP_ALIVE_SECONDS",
    "header_timeout": "FACEPROOF_HEADER_TIMEOUT_SECONDS",
    "body_timeout": "FACEPROOF_BODY_TIMEOUT_SECONDS",
}
_TICK = 0.5  # seconds between checks of a connection that is idle or reading a request


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    keep_alive: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: Phase = "idle"
        self._since = time.monotonic()
        self._body_time = 0.0
        self._head_bytes = 0
        self._tick_handle: asyncio.TimerHandle | None = None

    # -- phases -------------------------------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        self._phase = phase
        self._since = time.monotonic()
        self._body_time = 0.0
        if phase == "app":
            self._stop_ticking()
        elif self._tick_handle is None and self.transport is not None:
            self._tick_handle = self.loop.call_later(_TICK, self._tick)

    def _stop_ticking(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None

    def _tick(self) -> None:
        self._tick_handle = None
        if self.transport is None or self.transport.is_closing() or self._phase == "app":
            return
        waited = time.monotonic() - self._since
        if self._phase == "idle" and waited > self.keep_alive:
            self.transport.close()
            return
        if self._phase == "head" and waited > self.header_timeout:
            self._refuse(b"408 Request Timeout")
            return
        if self._phase == "body":
            if not self.flow.read_paused:  # only the client's own time counts
                self._body_time += _TICK
            if self._body_time > self.body_timeout:
                self.transport.close()  # the app, if reading, sees a disconnect
                return
        self._tick_handle = self.loop.call_later(_TICK, self._tick)

    def _refuse(self, status: bytes) -> None:
        """Answers ``status`` and closes, unless a response is being written (then closes)."""
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter("idle")

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_ticking()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase in ("idle", "app"):
            self._head_bytes = 0
        if self._phase == "idle":
            self._enter("head")  # the clock of a request starts at its first byte
        if self._phase == "head":
            self._head_bytes += len(data)
        super().data_received(data)
        if self._phase == "head" and self._head_bytes > self.max_header_bytes:
            # Still no end of headers after this many bytes (httptools has no limit).
            self._refuse(b"431 Request Header Fields Too Large")

    # -- parser callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase in ("idle", "app"):
            self._enter("head")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._enter("body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._enter("app")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._phase == "app" and not self.transport.is_closing():
            self._enter("idle")


#: What the subclass overrides or reads on uvicorn's protocol.
HOOKS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
    "on_response_complete",
)


def incompatibility(base: type = HttpToolsProtocol) -> str | None:
    """None when the installed uvicorn has everything this module relies on, else what
    is missing (one line)."""
    missing = [name for name in HOOKS if not callable(getattr(base, name, None))]
    try:
        source = inspect.getsource(base)
    except (OSError, TypeError):
        source = ""
    for attribute in ("self.transport", "self.loop", "self.cycle", "self.flow"):
        if attribute not in source:
            missing.append(attribute)
    try:
        flow_source = inspect.getsource(FlowControl.__init__)
    except (OSError, TypeError):
        flow_source = ""
    if "read_paused" not in flow_source:
        missing.append("FlowControl.read_paused")
    cycle = getattr(importlib.import_module(base.__module__), "RequestResponseCycle", None)
    if cycle is None or "response_complete" not in inspect.getsource(cycle.__init__):
        missing.append("RequestResponseCycle.response_complete")
    if not missing:
        return None
    return "uvicorn's HttpToolsProtocol changed (missing: " + ", ".join(missing) + ")"


def configure(keep_alive: float, header_timeout: float, body_timeout: float) -> None:
    """Sets the limits for every connection of this process."""
    GuardedHttpToolsProtocol.keep_alive = float(keep_alive)
    GuardedHttpToolsProtocol.header_timeout = float(header_timeout)
    GuardedHttpToolsProtocol.body_timeout = float(body_timeout)


def from_env() -> None:
    """Reads the limits a ``faceproof serve`` parent put in the environment (workers)."""
    for attr, name in ENV.items():
        value = os.environ.get(name)
        if value:
            setattr(GuardedHttpToolsProtocol, attr, float(value))


from_env()
