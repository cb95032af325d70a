"""1:N identification: galleries (enrol, list, erase) and ``POST /api/v1/identify``.

Same error model, refid and ledger as the rest (action ``MATCH1N``). Checks run cheapest
first: schema (501), level (505), names and paging (501), the gallery's existence (404,
before any image work and before a capture's single-use nonce is spent), image formats
(504), faces (503), quality (509/510, enrolment), liveness (401, captures). Details and
the FPIR levels: docs/identification.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from faceproof.api.capture import open_capture, pose_refusal
from faceproof.api.deps import Services, get_services
from faceproof.api.errors import (
    FILE_EXPECTED,
    body_expected,
    request_refid,
    validation_to_api_error,
)
from faceproof.api.middleware import json_ok
from faceproof.api.routers.match import _check_liveness
from faceproof.errors import ApiError, Err, Problem, one_of, problem
from faceproof.icao import enrol_problem
from faceproof.identification.service import IdentificationService
from faceproof.identification.store import GALLERY_RE, SUBJECT_RE
from faceproof.matching.levels import LEVELS, NONE, parse_level, rank
from faceproof.pipeline import outputs
from faceproof.pipeline.decode import decode_base64, decode_template
from faceproof.schemas.errors import ERROR_RESPONSES
from faceproof.schemas.identification import (
    MAX_RESULTS,
    DeletedResponse,
    EnrolRequest,
    EnrolResponse,
    IdentifyRequest,
    IdentifyResponse,
    SubjectsResponse,
)
from faceproof.schemas.match import TemplateIn

router = APIRouter(prefix="/api/v1", tags=["identification"])

MATCHED = "FEEDBACK_MATCHED"
MAX_PAGE = 1000


_TEMPLATE_IN = {
    "type": "object",
    "required": ["template", "format"],
    "properties": {
        "template": {"type": "string", "description": "base64 of the image"},
        "format": {"type": "string", "enum": ["JPEG", "PNG", "ISO_19794_5"]},
    },
}
_IDENTIFY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["gallery", "level"],
                    "properties": {
                        "gallery": {"type": "string"},
                        "level": {"type": "string", "enum": list(LEVELS)},
                        "maxResults": {"type": "integer", "default": 10},
                        "image": _TEMPLATE_IN,
                        "template": {"type": "string", "description": "FACEPROOF_T1, base64"},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "gallery", "level"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The SDK's encrypted capture (JWE)",
                        },
                        "gallery": {"type": "string"},
                        "level": {"type": "string", "enum": list(LEVELS)},
                        "maxResults": {"type": "integer", "default": 10},
                    },
                }
            },
        },
    }
}


def _service(services: Services) -> IdentificationService:
    ident = getattr(services, "identification", None)
    if ident is None or services.face is None:
        raise ApiError(Err.SERVER_INTERNAL, "identification is not available")
    return ident


def _gallery(name: str) -> str:
    if not GALLERY_RE.match(name):
        raise problem(Problem.WRONG_FIELD, "/gallery", expected="1–64 of A–Z a–z 0–9 _ . -")
    return name


def _subject(name: str) -> str:
    if not SUBJECT_RE.match(name):
        raise problem(
            Problem.WRONG_FIELD, "/subjectId", expected="1–128 of A–Z a–z 0–9 _ . @ : + = -"
        )
    return name


def _one_input(image: TemplateIn | None, template: str | None) -> None:
    if (image is None) == (template is None):
        raise problem(
            Problem.WRONG_FIELD, "/image", expected="given, or /template, exactly one of the two"
        )


def _template_vector(ident: IdentificationService, template: str) -> tuple[Any, int]:
    return ident.vector_of_template(decode_base64(template, "/template"), "/template")


# -- enrolment --------------------------------------------------------------------------------
@router.post(
    "/galleries/{gallery}/subjects",
    response_model=EnrolResponse,
    responses={**ERROR_RESPONSES, 409: {"description": "Duplicate subject (duplicateLevel)"}},
    summary="Enrol a subject (or add a template to one): image gated as ENROL, or a template",
)
def enrol(
    gallery: str, body: EnrolRequest, request: Request, services: Services = Depends(get_services)
) -> JSONResponse:
    request.state.ledger = {"level_requested": "ENROL"}
    ident = _service(services)
    _gallery(gallery)
    _subject(body.subjectId)
    dup = (
        parse_level(body.duplicateLevel, "/duplicateLevel")
        if body.duplicateLevel is not None
        else None
    )
    _one_input(body.image, body.template)
    if body.template is not None:
        vector, quality = _template_vector(ident, body.template)
    else:
        assert body.image is not None
        vector, quality, q_block = _enrol_image(services, body.image)
        request.state.ledger["quality"] = q_block
    done = ident.enrol(gallery, body.subjectId, vector, quality, dup)
    out = {
        "code": 200,
        "feedbackCode": "FEEDBACK_ENROLLED",
        "refid": request_refid(request),
        "gallery": gallery,
        "subjectId": body.subjectId,
        "templateId": done.template_id,
        "templates": done.templates,
        "created": done.created,
    }
    return json_ok(request, out, "FEEDBACK_ENROLLED")


def _enrol_image(services: Services, image: TemplateIn) -> tuple[Any, int, dict[str, Any]]:
    """The ENROL gate of generateTemplateFromImage: one face (509), ICAO quality (510)."""
    engine = services.face
    assert engine is not None
    decoded = decode_template(
        image.template, image.format, "/image", services.settings.max_image_pixels
    )
    record, search = engine.analyse(decoded.rgb, "document")
    if record is None or record.landmarks is None or record.five_points is None:
        raise problem(Problem.NO_FACE, "/image/template")
    if search.multiple:
        raise problem(Problem.MULTIPLE_FACES, "/image/template")
    out = outputs.measure(engine, decoded.rgb, record, search, need_mask=True)
    quality = outputs.quality_block(out)
    refusal = enrol_problem(out.session, outputs.icao_report(out), "ENROL", quality=out.quality)
    if refusal is not None:
        raise refusal.api_error("/image/template")
    vector = engine.embedding(decoded.rgb, record)
    return vector, round(quality["quality_metric"]), quality


@router.get(
    "/galleries/{gallery}/subjects",
    response_model=SubjectsResponse,
    responses=ERROR_RESPONSES,
    summary="List a gallery's subjects, a page at a time",
)
def list_subjects(
    gallery: str,
    request: Request,
    offset: int = Query(0, ge=0, le=10**9, description="Subjects to skip"),
    limit: int = Query(100, ge=1, le=MAX_PAGE, description=f"Page size, at most {MAX_PAGE}"),
    services: Services = Depends(get_services),
) -> JSONResponse:
    ident = _service(services)
    _gallery(gallery)
    total, page = ident.store.subjects(gallery, offset, limit)
    out = {
        "code": 200,
        "feedbackCode": "FEEDBACK_OK",
        "refid": request_refid(request),
        "gallery": gallery,
        "total": total,
        "offset": offset,
        "limit": limit,
        "subjects": [
            {"subjectId": s.subject, "templates": s.templates, "enrolledAt": s.created_ms}
            for s in page
        ],
    }
    return json_ok(request, out, "FEEDBACK_OK")


@router.delete(
    "/galleries/{gallery}/subjects/{subjectId}",
    response_model=DeletedResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Erase a subject: every template, from storage and from every index",
)
def delete_subject(
    gallery: str, subjectId: str, request: Request, services: Services = Depends(get_services)
) -> JSONResponse:
    ident = _service(services)
    _gallery(gallery)
    _subject(subjectId)
    n = ident.delete_subject(gallery, subjectId)
    out = {
        "code": 200,
        "feedbackCode": "FEEDBACK_DELETED",
        "refid": request_refid(request),
        "gallery": gallery,
        "subjectId": subjectId,
        "templatesDeleted": n,
    }
    return json_ok(request, out, "FEEDBACK_DELETED")


@router.delete(
    "/galleries/{gallery}",
    response_model=DeletedResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Erase a whole gallery",
)
def delete_gallery(
    gallery: str, request: Request, services: Services = Depends(get_services)
) -> JSONResponse:
    ident = _service(services)
    _gallery(gallery)
    n = ident.delete_gallery(gallery)
    out = {
        "code": 200,
        "feedbackCode": "FEEDBACK_DELETED",
        "refid": request_refid(request),
        "gallery": gallery,
        "templatesDeleted": n,
    }
    return json_ok(request, out, "FEEDBACK_DELETED")


# -- identification ---------------------------------------------------------------------------
def _max_results(value: object) -> int:
    wrong = problem(Problem.WRONG_FIELD, "/maxResults", expected=f"an integer 1–{MAX_RESULTS}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise wrong
    try:
        n = int(value)
    except ValueError:
        raise wrong from None
    if not 1 <= n <= MAX_RESULTS:
        raise wrong
    return n


@router.post(
    "/identify",
    response_model=IdentifyResponse,
    response_model_exclude_none=True,
    responses={**ERROR_RESPONSES, 404: {"description": "No such gallery (or it is empty)"}},
    summary="1:N open-set search: image, template (JSON) or SDK capture (multipart `file`)",
    openapi_extra=_IDENTIFY_BODY,
)
async def identify(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    request.state.ledger = {}
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_part_size=services.settings.max_upload_bytes)
        except ApiError:
            raise  # e.g. the body grew past the size limit while it was read
        except Exception:  # as FastAPI does for the bodies it parses itself
            raise problem(Problem.UNREADABLE_BODY, expected="multipart/form-data") from None
        upload = form.get("file")
        if upload is None:
            raise problem(Problem.MISSING_FIELD, "/file", expected=FILE_EXPECTED)
        if isinstance(upload, str):
            raise problem(Problem.WRONG_FIELD, "/file", expected=FILE_EXPECTED)
        token = await upload.read(services.settings.max_upload_bytes + 1)
        fields = {k: form.get(k) for k in ("gallery", "level", "maxResults")}
        return await run_in_threadpool(_identify_capture, request, services, token, fields)
    raw = await request.body()
    if not raw.strip():
        raise problem(Problem.EMPTY_BODY, expected=body_expected(request))
    try:
        body = IdentifyRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise _schema_error(exc, body_expected(request)) from None
    return await run_in_threadpool(_identify_json, request, services, body)


def _schema_error(exc: ValidationError, expected_body: str) -> ApiError:
    errors = [dict(e, loc=("body", *e.get("loc", ()))) for e in exc.errors()]
    return validation_to_api_error(RequestValidationError(errors), expected_body)


def _common(
    request: Request, services: Services, gallery: Any, level: Any, max_results: Any
) -> tuple[IdentificationService, str, str, int]:
    if not isinstance(gallery, str):
        raise problem(Problem.MISSING_FIELD, "/gallery", expected="the gallery's name")
    if level is None:
        raise problem(Problem.MISSING_FIELD, "/level", expected=f"one of {one_of(LEVELS)}")
    lv = parse_level(level, "/level")
    request.state.ledger["level_requested"] = lv
    ident = _service(services)
    _gallery(gallery)
    k = _max_results(10 if max_results is None else max_results)
    if ident.size(gallery) == 0 and ident.store.count(gallery) == 0:
        raise ApiError(Err.GALLERY_NOT_FOUND)
    return ident, gallery, lv, k


def _identify_json(request: Request, services: Services, body: IdentifyRequest) -> JSONResponse:
    ident, gallery, level, k = _common(request, services, body.gallery, body.level, body.maxResults)
    _one_input(body.image, body.template)
    multiple = False
    if body.template is not None:
        vector, _ = _template_vector(ident, body.template)
    else:
        assert body.image is not None and services.face is not None
        decoded = decode_template(
            body.image.template, body.image.format, "/image", services.settings.max_image_pixels
        )
        record, search = services.face.analyse(decoded.rgb, "selfie")
        if record is None or record.five_points is None:
            raise problem(Problem.NO_FACE, "/image/template")
        vector, multiple = services.face.embedding(decoded.rgb, record), search.multiple
    return _answer(request, ident, gallery, level, k, vector, multiple, {})


def _identify_capture(
    request: Request, services: Services, token: bytes, fields: dict[str, Any]
) -> JSONResponse:
    ident, gallery, level, k = _common(
        request, services, fields["gallery"], fields["level"], fields["maxResults"]
    )
    limit = services.settings.max_upload_bytes
    if len(token) > limit:
        raise problem(Problem.BODY_TOO_LARGE, limit=limit)
    engine = services.face
    assert engine is not None
    capture = open_capture(services, token)
    request.state.ledger["device_type"] = capture.payload.device.type
    selfie = capture.main.rgb
    record, search = engine.analyse(selfie, mode="selfie")
    if record is None or record.five_points is None:
        raise problem(Problem.NO_FACE, "/file")
    refused = pose_refusal(capture, record)
    if refused is not None:
        raise refused
    live = _check_liveness(services, capture, record)  # before any search
    vector = engine.embedding(selfie, record)
    return _answer(request, ident, gallery, level, k, vector, search.multiple, live)


def _answer(
    request: Request,
    ident: IdentificationService,
    gallery: str,
    level: str,
    k: int,
    vector: Any,
    multiple: bool,
    extra: dict[str, Any],
) -> JSONResponse:
    n, candidates = ident.identify(gallery, vector, k)
    best = candidates[0].level_reached if candidates else NONE
    request.state.ledger["level_reached"] = best
    out = {
        "code": 200,
        "feedbackCode": MATCHED,
        "refid": request_refid(request),
        "gallery": gallery,
        "gallerySize": n,
        "level": level,
        "identified": rank(best) >= rank(level),
        "candidates": [
            {
                "subjectId": c.subject,
                "similarityScore": c.similarity_score,
                "levelReached": c.level_reached,
            }
            for c in candidates
        ],
        "multipleFacesImage": multiple,
        **extra,
    }
    return json_ok(request, out, MATCHED)
