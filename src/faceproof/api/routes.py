"""Per-endpoint facts the cross-cutting layers need: refid action, error key, billing.

The reference answers matching/template endpoints with ``feedbackCode`` and capture endpoints
with ``message``; liveness refusals always use ``message`` (documented for /process and for
the spoof branch of /verifyWithPictureId).
"""

from __future__ import annotations

from dataclasses import dataclass

API = "/api/v1"


@dataclass(frozen=True)
class RouteInfo:
    action: str  # the {action} part of the refid
    key: str  # "message" or "feedbackCode"
    billed: bool  # recorded in the transaction ledger


ROUTES: dict[str, RouteInfo] = {
    f"{API}/process": RouteInfo("process", "message", True),
    f"{API}/secure/face/as": RouteInfo("antispoof", "message", True),
    f"{API}/face/as": RouteInfo("antispoof", "message", True),
    f"{API}/matchWithSelfie": RouteInfo("MATCH121", "feedbackCode", True),
    f"{API}/matchWithPictureId": RouteInfo("MATCH121", "feedbackCode", True),
    f"{API}/verifyWithPictureId": RouteInfo("VERIFY", "feedbackCode", True),
    f"{API}/face/generateTemplateFromImage": RouteInfo("GENERATE", "feedbackCode", True),
    f"{API}/identify": RouteInfo("MATCH1N", "feedbackCode", True),
    f"{API}/challenge": RouteInfo("challenge", "message", False),
    f"{API}/pub_key": RouteInfo("pubkey", "message", False),
    f"{API}/models": RouteInfo("models", "message", False),
    f"{API}/time": RouteInfo("time", "message", False),
    f"{API}/face_health": RouteInfo("health", "message", False),
}

DEFAULT_ROUTE = RouteInfo("request", "message", False)
# /api/v1/galleries/{gallery}/subjects[/{subjectId}] (1:N); billed when POST (enrolment).
GALLERY_ROUTE = RouteInfo("MATCH1N", "feedbackCode", True)


def route_info(path: str) -> RouteInfo:
    path = path.rstrip("/") or "/"
    if path.startswith(f"{API}/galleries/"):
        return GALLERY_ROUTE
    return ROUTES.get(path, DEFAULT_ROUTE)
