"""``POST /api/v1/face/generateTemplateFromImage``: a face image in, an embedding template out."""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from faceproof.api.deps import Services, get_services
from faceproof.api.errors import request_refid
from faceproof.api.middleware import json_ok
from faceproof.errors import ApiError, Err, Problem, one_of, problem
from faceproof.icao.enrol import enrol_problem
from faceproof.pipeline import outputs
from faceproof.pipeline.decode import decode_base64, decode_image
from faceproof.pipeline.embedding_template import (
    REFERENCE_TEMPLATE_NAME,
    TEMPLATE_NAME,
    encode_embedding,
)
from faceproof.schemas.errors import ERROR_RESPONSES
from faceproof.schemas.templates import GenerateRequest, GenerateResponse

router = APIRouter(prefix="/api/v1", tags=["templates"])

QualityMode = Literal["ENROL", "VERIFY", "DISABLED"]
QUALITY_MODES: tuple[QualityMode, ...] = ("ENROL", "VERIFY", "DISABLED")


@router.post(
    "/face/generateTemplateFromImage",
    response_model=GenerateResponse,
    responses=ERROR_RESPONSES,
    summary="Face embedding template (FACEPROOF_T1) from a face image, with ICAO checks",
)
def generate_template(
    body: GenerateRequest, request: Request, services: Services = Depends(get_services)
) -> JSONResponse:
    mode = next((m for m in QUALITY_MODES if m == body.qualityMode), None)
    if mode is None:
        raise problem(Problem.WRONG_FIELD, "/qualityMode", expected=one_of(QUALITY_MODES))
    request.state.ledger = {"level_requested": mode}
    engine = services.face
    if engine is None:
        raise ApiError(Err.SERVER_INTERNAL, "face models are not loaded")
    image = decode_image(
        decode_base64(body.image, "/image"),
        field="/image",
        max_pixels=services.settings.max_image_pixels,
    )
    record, search = engine.analyse(image.rgb, "document")
    if record is None or record.landmarks is None:
        raise problem(Problem.NO_FACE, "/image")
    if mode == "ENROL" and search.multiple:
        raise problem(Problem.MULTIPLE_FACES, "/image")

    out = outputs.measure(engine, image.rgb, record, search, need_mask=True)
    quality = outputs.quality_block(out)
    icao = outputs.icao_report(out)
    request.state.ledger["quality"] = quality
    if mode != "DISABLED":
        refusal = enrol_problem(out.session, icao, mode, quality=out.quality)
        if refusal is not None:
            raise refusal.api_error("/image")

    vector = engine.embedding(image.rgb, record)
    template = encode_embedding(
        vector,
        engine.embedder.model_id,
        engine.embedder_digest,
        round(quality["quality_metric"]),
    )
    keys = [TEMPLATE_NAME]
    if services.settings.template_key_compat:
        keys.append(REFERENCE_TEMPLATE_NAME)  # the reference's key, same bytes
    response: dict[str, Any] = {
        "code": 200,
        "feedbackCode": "FEEDBACK_CAPTURED",
        "refid": request_refid(request),
        "data": {
            "height": image.height,
            "width": image.width,
            "channels": 3,
            "templates": dict.fromkeys(keys, base64.b64encode(template).decode("ascii")),
            "bits_per_pixel": image.bits_per_pixel,
        },
        "icao_data": icao.to_json(),
    }
    return json_ok(request, response, "FEEDBACK_CAPTURED")
