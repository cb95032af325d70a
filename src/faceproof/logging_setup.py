"""Logging: one JSON object per line on stderr; messages never carry caller data."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        try:
            payload = json.loads(msg) if msg.startswith("{") else {"message": msg}
        except ValueError:
            payload = {"message": msg}
        base = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        for key in ("refid", "error_type"):
            if hasattr(record, key):
                base[key] = getattr(record, key)
        return json.dumps({**base, **payload})


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever ``sys.stderr`` is at emit time (it may be redirected later)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str) -> None:
    root = logging.getLogger("faceproof")
    root.setLevel(level)
    if not any(getattr(h, "_faceproof", False) for h in root.handlers):
        handler = StderrHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._faceproof = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's ``log_config``: its own loggers through :class:`JsonFormatter` too, so the
    server's stderr is JSON lines only (uvicorn's default prints ``INFO:     …`` text)."""
    handler = {"()": StderrHandler, "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json": handler},
        "loggers": {
            name: {"handlers": ["json"], "level": level.upper(), "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


@contextmanager
def native_stderr_as_json() -> Iterator[None]:
    """Lines native libraries write straight to fd 2 inside the block come out as JSON.

    LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` (once per
    process, when the first model loads) with C++ stdio, past Python's logging. Inside the
    block fd 2 goes to an unnamed temporary file; afterwards each line is re-emitted on the
    real stderr, JSON lines as they are and any other line as a ``faceproof.native`` record.
    Only log text passes through (never images: nothing here sees request data).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as spool:
        os.dup2(spool.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            spool.seek(0)
            if not any(
                getattr(h, "_faceproof", False) for h in logging.getLogger("faceproof").handlers
            ):
                try:
                    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
                except ValueError:
                    configure_logging("INFO")
            log = logging.getLogger("faceproof.native")
            for raw in spool.read().decode("utf-8", "replace").splitlines():
                line = raw.strip()
                if not line:
                    continue
                if line.startswith("{"):
                    try:
                        json.loads(line)
                        sys.stderr.write(line + "\n")
                        continue
                    except ValueError:
                        pass
                level, sep, text = line.partition(": ")
                known = sep and level in ("INFO", "WARNING", "ERROR")
                log.log(getattr(logging, level) if known else logging.INFO, text if known else line)
            sys.stderr.flush()


class AccessLog:
    """One ``faceproof.access`` line per HTTP request: method, path, status, ms, refid, and
    for API answers the documented ``code`` and its name (``outcome``).

    Outermost ASGI layer, so it also sees the answers the inner layers make themselves (413,
    origin refusals). Never the query string, the body, or a header other than the
    reference's ``requestID`` (the integrator's session id, which it asks to have logged;
    added when sent). ``LogAPITrigger: true`` needs nothing more: every request already has
    this line, and only this one.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log = logging.getLogger("faceproof.access")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": None, "refid": None}

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.lower() == b"x-refid":
                        seen["refid"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            line: dict[str, Any] = {
                "event": "access",
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": seen["status"],
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "refid": seen["refid"],
            }
            outcome = scope.get("faceproof.outcome")  # api.middleware.OUTCOME
            if outcome is not None:
                line["code"], line["outcome"] = outcome
            for name, value in scope.get("headers", []):
                if name.lower() == b"requestid":
                    line["requestID"] = value.decode("latin-1")[:128]
            self.log.info(json.dumps(line))
