"""``POST /api/v1/process``: an SDK capture in, liveness decision, quality, ICAO, templates out."""

from __future__ import annotations

import time
from datetime import UTC, datetime
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
from faceproof.pipeline import outputs
from faceproof.pipeline.background import parse_colour
from faceproof.schemas.errors import ERROR_RESPONSES
from faceproof.schemas.process import ProcessResponse

router = APIRouter(prefix="/api/v1", tags=["capture"])


def capture_date(ts_ms: int) -> str:
    """The reference's format: ``2025-04-04T13:04:40.481 +0000`` (UTC)."""
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d} +0000"


def liveness_decision(
    services: Services, capture: Capture, request: Request, record: FaceRecord
) -> dict[str, Any]:
    """Runs liveness when the capture asks for it; raises FEEDBACK_RETRY* on an attack.

    Returns the two documented fields; the additive top-level ``liveness`` block (unless
    FACEPROOF_LIVENESS_DETAILS is off) is left in ``request.state.liveness_extra``. When
    the capture disabled liveness the level is null (as documented). A deployment without
    the liveness stage reports it explicitly as not evaluated instead of inventing a score.
    """
    opts = capture.payload.options
    if not opts.enableAs:
        return {"as_highest_security_level_reached": None, "spoof_score": None}
    if services.liveness is None:
        return {
            "as_highest_security_level_reached": None,
            "spoof_score": None,
            "as_status": "NOT_EVALUATED",
        }
    result = services.liveness.evaluate_capture(services.face, capture, record=record)
    request.state.ledger.update(
        {"level_requested": result.threshold, "level_reached": result.level_reached}
    )
    extra = answer_extra(result, services.settings.liveness_details)
    if result.insecure or result.is_spoof:
        kind = Err.FEEDBACK_RETRY_INSECURE if result.insecure else Err.FEEDBACK_RETRY
        raise ApiError(
            kind,
            retry_description(result),
            data={"image": outputs.jpeg_b64(capture.main.rgb)},
            extra={"quality": bool(result.quality_ok), **extra},
        )
    request.state.liveness_extra = extra
    return {
        "as_highest_security_level_reached": result.level_reached,
        "spoof_score": [round(float(result.score), 7)],
    }


@router.post(
    "/process",
    response_model=ProcessResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Process an SDK capture: liveness, quality, ICAO checks and templates",
)
def process(
    request: Request,
    file: UploadFile = File(..., description="The encrypted capture (JWE) from the SDK"),
    enableQuality: bool = Form(True, description="Add data.quality and send it to the ledger"),
    services: Services = Depends(get_services),
) -> JSONResponse:
    received_ms = int(time.time() * 1000)
    request.state.ledger = {}
    capture = open_capture(services, read_upload(services, file))
    opts = capture.payload.options
    request.state.ledger["device_type"] = capture.payload.device.type
    requested = list(dict.fromkeys(opts.requiredTemplates))
    for name in requested:
        if name not in outputs.TEMPLATE_FORMATS:
            raise problem(Problem.UNSUPPORTED_FORMAT, "/options/requiredTemplates")
    colour = None
    if opts.enableBackgroundRemoval and opts.backgroundColor is not None:
        colour = parse_colour(opts.backgroundColor, "/options/backgroundColor")

    engine = services.face
    if engine is None:
        raise ApiError(Err.SERVER_INTERNAL, "face models are not loaded")
    main = capture.main
    record, search = engine.analyse(main.rgb, "selfie")
    if record is None or record.landmarks is None:
        raise problem(Problem.NO_FACE, "/file")
    refused = pose_refusal(capture, record)
    if refused is not None:
        raise refused

    live = liveness_decision(services, capture, request, record)
    out = outputs.measure(
        engine,
        main.rgb,
        record,
        search,
        need_mask=opts.enableICAOChecks or opts.enableBackgroundRemoval,
    )
    data: dict[str, Any] = {
        "bits_per_pixel": main.bits_per_pixel,
        "capture_date": capture_date(capture.payload.ts),
        "width": main.width,
        "channels": 3,
        "height": main.height,
        "resolution": f"{main.width}x{main.height}x3",
        **live,
    }
    if enableQuality and opts.returnQualityMetadata:
        quality = outputs.quality_block(out)
        data["quality"] = quality
        request.state.ledger["quality"] = quality

    source = outputs.background_applied(out, colour) if opts.enableBackgroundRemoval else main.rgb
    templates = outputs.encode_templates(source, requested, record, image_type="BASIC")
    key = "encrypted_templates" if services.template_key is not None else "templates"
    data[key] = outputs.protect(templates, services.template_key)
    data["aligned"] = outputs.jpeg_b64(outputs.aligned(source, record))

    body: dict[str, Any] = {
        "refid": request_refid(request),
        "code": 200,
        "message": "FEEDBACK_CAPTURED",
        "upload_ts": received_ms - capture.payload.ts,
        "data": data,
        **getattr(request.state, "liveness_extra", {}),
    }
    if opts.enableICAOChecks:
        body["icao_data"] = outputs.icao_block(
            out, source, requested, services.template_key, colour
        )
    return json_ok(request, body, "FEEDBACK_CAPTURED")
