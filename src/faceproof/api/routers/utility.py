"""Utility endpoints the SDK calls: public key, model bundle, server time, health."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from faceproof import __version__
from faceproof.api.deps import Services, get_services
from faceproof.api.errors import request_refid
from faceproof.models.bundle import browser_bundle
from faceproof.storage.health import CRITICAL, store_statuses

router = APIRouter(prefix="/api/v1", tags=["utility"])

OCTET = "application/octet-stream"

# Browser-side models shipped to the SDK (docs/sdk.md): the same pinned files the server
# runs, so the oval the SDK guides to is judged on the same detector box by the server.
BROWSER_MODELS: tuple[tuple[str, str], ...] = (
    ("face_detection_short_range.tflite", "face_detector"),
    ("face_landmark.tflite", "face_mesh"),
)


def _octet(request: Request, payload: bytes) -> Response:
    request.state.outcome = (200, "OK")
    return Response(payload, media_type=OCTET, headers={"refid": request_refid(request)})


@router.post(
    "/pub_key",
    response_class=Response,
    responses={200: {"content": {OCTET: {}}, "description": "UTF-8 JSON: kid, jwk, spki"}},
    summary="Current public key for sealing capture envelopes",
)
def pub_key(request: Request, services: Services = Depends(get_services)) -> Response:
    """`jwk` imports with WebCrypto (`RSA-OAEP`, SHA-256); `spki` is base64 DER."""
    ks = services.keystore
    body = {
        "kid": ks.current_kid,
        "alg": "RSA-OAEP-256",
        "enc": "A256CBC-HS512",
        "jwk": ks.public_jwk(),
        "spki": ks.public_spki_b64(),
    }
    return _octet(request, json.dumps(body).encode())


@lru_cache(maxsize=4)
def _bundle(models_path: Path) -> bytes:
    return browser_bundle(models_path, BROWSER_MODELS)


@router.post(
    "/models",
    response_class=Response,
    responses={200: {"content": {OCTET: {}}, "description": "faceproof model bundle (FPMB)"}},
    summary="Browser-side model bundle for the SDK",
)
def models(request: Request, services: Services = Depends(get_services)) -> Response:
    return _octet(request, _bundle(services.settings.models_path))


@router.post(
    "/time",
    response_class=Response,
    responses={200: {"content": {OCTET: {}}, "description": 'UTF-8 JSON {"epoch_ms": int}'}},
    summary="Server clock, so the SDK can correct its timestamps",
)
def server_time(request: Request) -> Response:
    return _octet(request, json.dumps({"epoch_ms": int(time.time() * 1000)}).encode())


@router.get(
    "/face_health",
    summary="Health probe: OK plus versions, models, key id, ledger and state stores; "
    "503 when unhealthy",
)
def face_health(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    """200 with ``status: OK`` when the worker can serve billed requests; 503 with
    ``status: ERROR`` and ``reason`` when it cannot (the ledger cannot record, or the nonce or
    challenge store does not answer); ``stores`` names each store's backend and state."""
    face = services.face
    liveness, ident = services.liveness, services.identification
    stores = store_statuses(
        {
            "ledger": services.ledger,
            "nonces": services.opener.nonces,
            "challenges": liveness.challenges if liveness is not None else None,
            "gallery": ident.store if ident is not None else None,
        }
    )
    failed = [s for s in stores if s.problem is not None and s.name in CRITICAL]
    ledger_problem = next((s.problem for s in stores if s.name == "ledger"), None)
    problem = failed[0].problem if failed else None
    body = {
        "status": "OK" if problem is None else "ERROR",
        "refid": request_refid(request),
        "version": __version__,
        "kid": services.keystore.current_kid,
        "models": face.model_status() if face is not None else {"status": "not loaded"},
        "ledger": "OK" if ledger_problem is None else "ERROR",
        "stores": {s.name: s.public() for s in stores},
        "uptime_s": round(time.time() - services.started_at, 1),
    }
    if problem is not None:
        body["reason"] = problem
        request.state.outcome = (503, "UNHEALTHY")
        return JSONResponse(body, status_code=503)
    request.state.outcome = (200, "OK")
    return JSONResponse(body)
