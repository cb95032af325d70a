"""Liveness endpoints: third-party images (/face/as), SDK envelopes (/secure/face/as) and the
challenge for challenge-bound captures (/challenge).

Endpoints are sync ``def`` so the CPU work runs in FastAPI's thread pool.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from faceproof.api.capture import open_capture, pose_refusal, read_upload
from faceproof.api.deps import Services, get_services
from faceproof.api.errors import request_refid
from faceproof.api.liveness_report import answer_extra, retry_description
from faceproof.api.middleware import json_ok
from faceproof.errors import ApiError, Err, Problem, parse_level_name, problem
from faceproof.liveness.levels import LEVELS
from faceproof.liveness.service import LivenessResult, LivenessService
from faceproof.pipeline.decode import decode_base64, decode_image
from faceproof.pipeline.outputs import jpeg_b64
from faceproof.schemas.errors import ERROR_RESPONSES
from faceproof.schemas.liveness import ChallengeResponse, LivenessResponse

router = APIRouter(prefix="/api/v1", tags=["liveness"])


def _service(services: Services) -> LivenessService:
    if services.liveness is None or services.face is None:
        raise ApiError(Err.SERVER_INTERNAL, "liveness not available")
    service: LivenessService = services.liveness
    return service


def _answer(
    request: Request,
    result: LivenessResult,
    image: bytes,
    echo: bool,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """The documented answer; ``input.image`` (the caller's own image, as large as it sent)
    only with FACEPROOF_ECHO_INPUT_IMAGE=true (docs/api-decisions.md)."""
    request.state.ledger = {
        "level_requested": result.threshold,
        "level_reached": result.level_reached,
        "quality": {"qc_passed": result.quality_ok},
    }
    body: dict[str, Any] = {
        "as_highest_security_level_reached": result.level_reached,
        "is_spoof": result.is_spoof,
        "score": round(float(result.score), 7),
        "error": 0,
        "refid": request_refid(request),
        **({"input": {"image": base64.b64encode(image).decode("ascii")}} if echo else {}),
        **(extra or {}),
    }
    return json_ok(request, body, "FEEDBACK_SPOOF" if result.is_spoof else "FEEDBACK_LIVE")


@router.post(
    "/face/as",
    response_model=LivenessResponse,
    responses=ERROR_RESPONSES,
    summary="Passive liveness of a third-party face image",
)
def face_as(
    request: Request,
    image: str = Form(
        ...,
        description="base64 face image (JPEG or PNG, any size)",
        media_type="multipart/form-data",  # as documented; url-encoded forms work too
    ),
    threshold: str = Form(
        ...,
        description=f"security level: {', '.join(LEVELS)}",
        media_type="multipart/form-data",
    ),
    services: Services = Depends(get_services),
) -> JSONResponse:
    """Errors: 501 threshold NONE, 506 unknown threshold, 504 undecodable image, 503 no face
    (faceproof.errors.Problem)."""
    request.state.ledger = {}
    level = parse_level_name(threshold, LEVELS, "/threshold", liveness=True)
    request.state.ledger["level_requested"] = level
    service = _service(services)
    raw = decode_base64(image, "/image")
    decoded = decode_image(raw, "/image", max_pixels=services.settings.max_image_pixels)
    engine = services.face
    assert engine is not None  # checked by _service
    search = engine.find_faces(decoded.rgb, "document")
    if search.main is None:
        raise problem(Problem.NO_FACE, "/image")
    result = service.evaluate_image(decoded.rgb, search.main, level)
    return _answer(request, result, raw, services.settings.echo_input_image)


@router.post(
    "/secure/face/as",
    response_model=LivenessResponse,
    responses=ERROR_RESPONSES,
    summary="Liveness of an encrypted SDK capture (threshold: the capture's options.asThreshold)",
)
def secure_face_as(
    request: Request,
    file: UploadFile = File(..., description="The encrypted capture (JWE) from the SDK"),
    services: Services = Depends(get_services),
) -> JSONResponse:
    """The level requested is the capture's ``options.asThreshold`` (default
    BALANCED_VERY_HIGH). A virtual camera answers FEEDBACK_RETRY_INSECURE; a challenge that
    could not be judged (e.g. light_too_weak) FEEDBACK_RETRY; a spoof is reported in the
    body (``is_spoof``), as documented for this endpoint."""
    request.state.ledger = {}
    service = _service(services)
    capture = open_capture(services, read_upload(services, file))
    request.state.ledger["device_type"] = capture.payload.device.type
    engine = services.face
    assert engine is not None  # checked by _service
    record, _ = engine.analyse(capture.main.rgb, "selfie")
    if record is None:
        raise problem(Problem.NO_FACE, "/file")
    refused = pose_refusal(capture, record)
    if refused is not None:
        raise refused
    result = service.evaluate_capture(services.face, capture, record=record)
    extra = answer_extra(result, services.settings.liveness_details)
    if result.insecure or result.decision == "retry":
        request.state.ledger.update({"level_requested": result.threshold, "level_reached": None})
        raise ApiError(
            Err.FEEDBACK_RETRY_INSECURE if result.insecure else Err.FEEDBACK_RETRY,
            retry_description(result),
            data={"image": jpeg_b64(capture.main.rgb)},
            extra={"quality": bool(result.quality_ok), **extra},
        )
    echo = services.settings.echo_input_image
    response = _answer(request, result, capture.payload.frames[0].data, echo, extra)
    request.state.ledger["device_type"] = capture.payload.device.type  # _answer resets it
    return response


@router.post(
    "/challenge",
    response_model=ChallengeResponse,
    responses=ERROR_RESPONSES,
    summary="Issue a single-use move-closer + screen-light challenge (protocol v2)",
)
def issue_challenge(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    """Seal the capture with the returned ``nonce`` as the envelope nonce and
    ``challenge: {"id": …, "light_start_t": …}``; frames carry ``role`` "main", "far"/"near"
    (in the returned ``order``, each face inside its step's oval) and "light" (one per
    colour). docs/liveness.md has the protocol."""
    if services.liveness is None:
        raise ApiError(Err.SERVER_INTERNAL, "liveness not available")
    ch = services.liveness.issue_challenge()
    body = {
        "code": 200,
        "message": "CHALLENGE_ISSUED",
        "refid": request_refid(request),
        "challenge": ch.public(),
    }
    return json_ok(request, body, "CHALLENGE_ISSUED")
