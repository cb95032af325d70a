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
from faceproof.errors import ApiError, Err, ErrorKind
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
    return JSONResponse(error_body(request, err), status_code=err.kind.http_status)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path", "form")]
    return "/" + "/".join(parts) if parts else "/"


def validation_to_api_error(exc: RequestValidationError) -> ApiError:
    errors = exc.errors()
    if not errors:
        return ApiError(Err.INVALID_JSON)
    first = errors[0]
    if first.get("type") == "json_invalid":
        return ApiError(Err.INVALID_JSON, "JSON EXCEPTION")
    where = _loc(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value"))
    return ApiError(Err.INVALID_JSON, f"({where}) {msg}")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, validation_to_api_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds: dict[int, Err] = {404: Err.NOT_FOUND, 405: Err.METHOD_NOT_ALLOWED}
        kind = kinds.get(exc.status_code)
        if kind is None:
            ek = ErrorKind(501, "ERROR_INVALID_JSON", exc.status_code, "INVALID ARGUMENT EXCEPTION")
            err = ApiError(Err.INVALID_JSON)
            err.kind = ek
            err.description = ek.default_description
        else:
            err = ApiError(kind)
        return error_response(request, err)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Type name only: exception messages may quote caller data.
        log.error(
            "unhandled error",
            extra={"refid": request_refid(request), "error_type": type(exc).__name__},
        )
        return error_response(request, ApiError(Err.SERVER_INTERNAL))
