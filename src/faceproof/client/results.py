"""What the client returns: the server's own response models, plus the utility answers.

The JSON endpoints' results are the pydantic models the server documents its answers with
(the OpenAPI at ``/openapi.json``), imported from :mod:`faceproof.schemas`, where the server
defines them too, so the client and the document cannot drift apart; unknown fields are
ignored, so a newer server does not break an older client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faceproof.schemas import (
    ChallengeResponse,
    DeletedResponse,
    EnrolResponse,
    GenerateResponse,
    IdentifyResponse,
    LivenessResponse,
    MatchResponse,
    ProcessResponse,
    SubjectsResponse,
)

__all__ = [
    "ChallengeResponse",
    "DeletedResponse",
    "EnrolResponse",
    "GenerateResponse",
    "Health",
    "IdentifyResponse",
    "LivenessResponse",
    "MatchResponse",
    "ProcessResponse",
    "PublicKey",
    "SubjectsResponse",
]


@dataclass(frozen=True)
class PublicKey:
    """``POST /api/v1/pub_key``: the key captures are sealed for."""

    kid: str
    alg: str
    enc: str
    jwk: dict[str, Any]
    spki: str


@dataclass(frozen=True)
class Health:
    """``GET /api/v1/face_health`` (also when it answers 503: ``ok`` is then False)."""

    status: str
    refid: str
    version: str
    kid: str
    models: dict[str, Any]
    ledger: str
    uptime_s: float
    reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Health:
        return cls(
            status=str(body.get("status")),
            refid=str(body.get("refid")),
            version=str(body.get("version")),
            kid=str(body.get("kid")),
            models=dict(body.get("models") or {}),
            ledger=str(body.get("ledger")),
            uptime_s=float(body.get("uptime_s") or 0.0),
            reason=body.get("reason"),
            raw=body,
        )
