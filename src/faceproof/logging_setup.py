"""Logging: one JSON object per line on stderr; messages never carry caller data."""

from __future__ import annotations

import json
import logging
import sys
import time


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
