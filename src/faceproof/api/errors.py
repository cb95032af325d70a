"""Renders every failure in the documented error body; nothing else reaches the client.

Bodies: ``{"code", "message"|"feedbackCode", "refid", "description", ...}``. Stack traces,
exception texts and caller data never appear in a response or a log line.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from faceproof.api.routes import route_info
from faceproof.errors import ApiError, Err, Problem, problem
from faceproof.refid import new_refid

log = logging.getLogger("faceproof.api")


def request_refid(request: Request) -> str:
    """The request's refid, made on first use so every response of a request shares it."""
    refid = getattr(request.state, "refid", None)
    if refid is None:
        refid = new_refid(route_info(request.url.path).action)
        request.state.refid = refid
    return str(refid)


def error_body(request: Request, err: ApiError) -> dict[str, Any]:
    kind = err.kind
    key = "message" if kind.code == 401 else route_info(request.url.path).key
    body: dict[str, Any] = {
        "code": kind.code,
        key: kind.name,
        "refid": request_refid(request),
        "description": err.description,
    }
    if err.data is not None:
        body["data"] = err.data
    body.update(err.extra)
    return body


def error_response(request: Request, err: ApiError) -> JSONResponse:
    request.state.outcome = (err.kind.code, err.kind.name)
    response = JSONResponse(error_body(request, err), status_code=err.kind.http_status)
    if err.retry_after is not None:  # a refusal the caller may retry (429, 503)
        response.headers["Retry-After"] = str(err.retry_after)
    return response


#: What each request field must hold, in our words (validation messages name the field and
#: say this; the framework's own texts never reach a client).
FILE_EXPECTED = (
    "the encrypted capture from the SDK, sent as a file part of a multipart/form-data body "
    "(a part with a filename, not a text field)"
)
_IMAGE_B64 = "a base64-encoded JPEG or PNG image, as a string"
_FORMAT = "the image's format as a string: JPEG, PNG or ISO_19794_5"
_MATCH_LEVEL = "a match level as a string: LOW, MEDIUM, HIGH, VERY_HIGH or HIGHEST"
FIELD_EXPECTED: dict[str, str] = {
    "/file": FILE_EXPECTED,
    "/image": _IMAGE_B64,
    "/image/template": _IMAGE_B64,
    "/image/format": _FORMAT,
    "/imageToVerifyAgainst/template": _IMAGE_B64,
    "/imageToVerifyAgainst/format": _FORMAT,
    "/picID": "the ID card's portrait, base64-encoded, as a text field",
    "/template": "the format of picID as a text field: JPEG, PNG or ISO_19794_5",
    "/level": _MATCH_LEVEL,
    "/duplicateLevel": _MATCH_LEVEL,
    "/threshold": "a liveness level as a text field: LOW, MEDIUM, MODERATE, BALANCED_HIGH, "
    "HIGH, BALANCED_VERY_HIGH, VERY_HIGH or HIGHEST",
    "/qualityMode": "ENROL, VERIFY or DISABLED, as a string",
    "/enableQuality": "true or false",
    "/subjectId": "the subject's id, as a string",
    "/gallery": "the gallery's name, as a string",
    "/maxResults": "an integer 1–100",
    "/offset": "an integer ≥ 0 (subjects to skip)",
    "/limit": "an integer 1–1000 (page size)",
}
#: What a JSON body holds, per path (for an empty or non-object body).
BODY_EXPECTED: dict[str, str] = {
    "/api/v1/matchWithSelfie": "a JSON object with image {template, format}, "
    "imageToVerifyAgainst {template, format} and level",
    "/api/v1/matchWithPictureId": "a JSON object with image {template, format}, "
    "imageToVerifyAgainst {template, format} and level",
    "/api/v1/face/generateTemplateFromImage": "a JSON object with image (base64) and qualityMode",
    "/api/v1/galleries/{gallery}/subjects": "a JSON object with subjectId and image "
    "{template, format} or template",
    "/api/v1/identify": "a JSON object with gallery, level and image {template, format} or "
    "template, or a multipart/form-data body with file, gallery and level",
}
_OBJECT_TYPES = ("dict_type", "model_type", "model_attributes_type")
_PAIR_FIELDS = ("/image", "/imageToVerifyAgainst")
# Generic wording per pydantic error type, for fields without an entry above.
_TYPE_EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "list_type": "a list",
}


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path", "form")]
    return "/" + "/".join(parts) if parts else "/"


_BOUNDS = {
    "greater_than_equal": ("ge", "≥"),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "≤"),
    "less_than": ("lt", "<"),
    "string_too_long": ("max_length", "at most {} characters:"),
    "too_long": ("max_length", "at most {} items:"),
}


def _expected(field: str, error_type: str, ctx: object = None) -> str:
    if error_type in _OBJECT_TYPES:
        pair = field in _PAIR_FIELDS
        return "a JSON object with template and format" if pair else "a JSON object"
    if field in FIELD_EXPECTED:
        return FIELD_EXPECTED[field]
    if error_type in _BOUNDS and isinstance(ctx, dict):
        key, word = _BOUNDS[error_type]
        bound = ctx.get(key)
        if isinstance(bound, int | float):  # our own limit, never the caller's value
            if "{}" in word:
                return word.format(bound).rstrip(":")
            return f"a number {word} {bound}"
    return _TYPE_EXPECTED.get(error_type, "a value of the documented type")


def body_expected(request: Request) -> str:
    """What the body of this request's endpoint holds, for an empty or wrong-shaped body."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return BODY_EXPECTED.get(path, "the documented fields")


def validation_to_api_error(
    exc: RequestValidationError, expected_body: str = "the documented fields"
) -> ApiError:
    """The framework's validation failure as our answer: the field, and what it must hold.

    Only the first problem is reported (the reference's messages name one field); the
    framework's message text is never used, so no internal type or class name can leak.
    """
    errors = exc.errors()
    if not errors:
        return problem(Problem.EMPTY_BODY, expected=expected_body)
    first = errors[0]
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        detail = str(ctx.get("error", "")) if isinstance(ctx, dict) else ""
        # json's own reason ("Expecting value" …) names no caller data; keep it short.
        return problem(Problem.INVALID_JSON, detail=detail[:80] or "malformed")
    field = _loc(tuple(first.get("loc", ())))
    if field == "/":
        if kind == "missing":
            return problem(Problem.EMPTY_BODY, expected=expected_body)
        return problem(Problem.WRONG_BODY, expected=expected_body)
    expected = _expected(field, kind, first.get("ctx"))
    if kind == "missing":
        return problem(Problem.MISSING_FIELD, field, expected=expected)
    return problem(Problem.WRONG_FIELD, field, expected=expected)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, validation_to_api_error(exc, body_expected(request)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds: dict[int, Err] = {404: Err.NOT_FOUND, 405: Err.METHOD_NOT_ALLOWED}
        kind = kinds.get(exc.status_code)
        if kind is not None:
            return error_response(request, ApiError(kind))
        # Starlette's own refusals (a body it cannot parse: 400) say nothing useful to a
        # client in their text; the answer is ours, with the content type it expected.
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        expected = (
            ctype
            if ctype in ("multipart/form-data", "application/json")
            else ("the documented content type")
        )
        return error_response(request, problem(Problem.UNREADABLE_BODY, expected=expected))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Type name only: exception messages may quote caller data.
        log.error(
            "unhandled error",
            extra={"refid": request_refid(request), "error_type": type(exc).__name__},
        )
        return error_response(request, ApiError(Err.SERVER_INTERNAL))
