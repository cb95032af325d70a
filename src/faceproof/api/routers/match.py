"""1:1 match endpoints: /matchWithSelfie, /matchWithPictureId and /verifyWithPictureId.

Checks run cheapest first and answer with the reference's codes: schema (501), level (505),
image formats and decoding (504), then faces (503). /verifyWithPictureId validates its own
fields before it opens the capture (opening consumes the capture's single-use nonce) and
runs liveness before any matching: an unchecked capture is never matched.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from faceproof.api.capture import Capture, open_capture, pose_refusal, read_upload
from faceproof.api.deps import Services, get_services
from faceproof.api.errors import request_refid
from faceproof.api.liveness_report import answer_extra, retry_description
from faceproof.api.middleware import json_ok
from faceproof.errors import ApiError, Err, Problem, problem
from faceproof.face.record import FaceRecord
from faceproof.matching.levels import Kind, parse_level
from faceproof.matching.matcher import Embedded, Matcher, MatchResult
from faceproof.pipeline.decode import decode_template
from faceproof.pipeline.outputs import jpeg_b64
from faceproof.schemas.errors import ERROR_RESPONSES
from faceproof.schemas.match import MatchRequest, MatchResponse

router = APIRouter(prefix="/api/v1", tags=["match"])

MATCHED = "FEEDBACK_MATCHED"


def _ready(services: Services) -> tuple[Any, Matcher]:
    if services.face is None:
        raise ApiError(Err.SERVER_INTERNAL, "face models are not loaded")
    if services.matcher is None:
        raise ApiError(Err.SERVER_INTERNAL, "matcher is not available")
    matcher: Matcher = services.matcher
    return services.face, matcher


def _answer(
    request: Request,
    result: MatchResult,
    *,
    id_reference: bool,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    request.state.ledger["level_reached"] = result.decision.level_reached
    body: dict[str, Any] = {
        "code": 200,
        "feedbackCode": MATCHED,
        "refid": request_refid(request),
        **result.body(id_reference=id_reference),
        **(extra or {}),
    }
    return json_ok(request, body, MATCHED)


def _match_json(
    body: MatchRequest, request: Request, services: Services, kind: Kind
) -> JSONResponse:
    request.state.ledger = {}
    level = parse_level(body.level, "/level")
    request.state.ledger["level_requested"] = level
    engine, matcher = _ready(services)
    limit = services.settings.max_image_pixels
    a = decode_template(body.image.template, body.image.format, "/image", limit)
    b = decode_template(
        body.imageToVerifyAgainst.template,
        body.imageToVerifyAgainst.format,
        "/imageToVerifyAgainst",
        limit,
    )
    result = matcher.compare(engine, a.rgb, b.rgb, kind, level)
    return _answer(request, result, id_reference=kind == "id")


@router.post(
    "/matchWithSelfie",
    response_model=MatchResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="1:1 match of two selfies (levels at FAR 1:100 … 1:1M)",
)
def match_with_selfie(
    body: MatchRequest, request: Request, services: Services = Depends(get_services)
) -> JSONResponse:
    return _match_json(body, request, services, "selfie")


@router.post(
    "/matchWithPictureId",
    response_model=MatchResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="1:1 match of a selfie against an ID-card portrait (levels at FAR 1:100 … 1:10k)",
)
def match_with_picture_id(
    body: MatchRequest, request: Request, services: Services = Depends(get_services)
) -> JSONResponse:
    return _match_json(body, request, services, "id")


def _check_liveness(services: Services, capture: Capture, record: FaceRecord) -> dict[str, Any]:
    """Raises the /process spoof answer for an attack; a missing liveness stage is a 500.
    Returns the additive top-level ``liveness`` block (empty when the deployment hides it)."""
    if services.liveness is None:
        raise ApiError(Err.SERVER_INTERNAL, "liveness not available")
    result = services.liveness.evaluate_capture(services.face, capture, record=record)
    extra = answer_extra(result, services.settings.liveness_details)
    if result.insecure or result.is_spoof:
        raise ApiError(
            Err.FEEDBACK_RETRY_INSECURE if result.insecure else Err.FEEDBACK_RETRY,
            retry_description(result),
            data={"image": jpeg_b64(capture.main.rgb)},
            extra={"quality": bool(result.quality_ok), **extra},
        )
    return extra


@router.post(
    "/verifyWithPictureId",
    response_model=MatchResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="SDK capture → liveness → 1:1 match against an ID-card portrait",
)
def verify_with_picture_id(
    request: Request,
    file: UploadFile = File(..., description="The encrypted capture (JWE) from the SDK"),
    picID: str = Form(..., description="base64 of the portrait extracted from the ID card"),
    template: str = Form(..., description="Format of picID: JPEG, PNG or ISO_19794_5"),
    level: str = Form(..., description="LOW, MEDIUM, HIGH, VERY_HIGH or HIGHEST"),
    services: Services = Depends(get_services),
) -> JSONResponse:
    request.state.ledger = {}
    lv = parse_level(level, "/level")
    request.state.ledger["level_requested"] = lv
    engine, matcher = _ready(services)
    # "(/template) …" is how the reference names picID problems (its documented messages).
    picture = decode_template(picID, template, "", services.settings.max_image_pixels)
    capture = open_capture(services, read_upload(services, file))
    request.state.ledger["device_type"] = capture.payload.device.type
    selfie = capture.main.rgb
    record, search = engine.analyse(selfie, mode="selfie")
    if record is None or record.five_points is None:
        raise problem(Problem.NO_FACE, "/file")
    refused = pose_refusal(capture, record)
    if refused is not None:
        raise refused
    live = _check_liveness(services, capture, record)  # before any matching
    probe = Embedded(engine.embedding(selfie, record), search.multiple)
    reference = matcher.embed(engine, picture.rgb, "document")
    if reference is None:
        raise problem(Problem.NO_FACE, "/template")
    result = matcher.compare_embedded(probe, reference, "id", lv)
    return _answer(request, result, id_reference=True, extra=live)
