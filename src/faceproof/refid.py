"""Transaction ids in the documented shape ``W-face-{action}-{uuid}-{epoch_ms}``."""

from __future__ import annotations

import re
import time
import uuid

REFID_RE = re.compile(
    r"^W-face-(?P<action>[A-Za-z0-9_]+)-"
    r"(?P<uid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(?P<ts>\d{13})$"
)


def new_refid(action: str, now_ms: int | None = None) -> str:
    ts = int(time.time() * 1000) if now_ms is None else now_ms
    return f"W-face-{action}-{uuid.uuid4()}-{ts:013d}"


def parse_refid(refid: str) -> tuple[str, str, int] | None:
    m = REFID_RE.match(refid)
    if not m:
        return None
    return m["action"], m["uid"], int(m["ts"])
