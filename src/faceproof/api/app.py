"""The ASGI application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.formparsers import MultiPartParser

from faceproof import __version__
from faceproof.api.abuse import build_abuse_limits
from faceproof.api.admission import Admission
from faceproof.api.deps import Services, build_services
from faceproof.api.errors import install_error_handlers
from faceproof.api.metrics import mark_process_dead, metrics_endpoint
from faceproof.api.middleware import BodySizeLimit, RequestContext
from faceproof.api.routers import (
    identification,
    liveness,
    match,
    process,
    sdk_assets,
    templates,
    utility,
    web,
)
from faceproof.config import Settings, load_settings
from faceproof.logging_setup import AccessLog, configure_logging

log = logging.getLogger("faceproof")


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Builds the app; services are built eagerly so a bad deployment fails at start-up."""
    settings = settings or (services.settings if services else load_settings())
    configure_logging(settings.log_level)
    services = services or build_services(settings)
    built = services
    abuse = build_abuse_limits(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        abuse.close()
        built.close()
        mark_process_dead(os.getpid())  # this worker's live gauges leave the sums

    # Uploaded envelopes stay in memory (never spooled to a temp file on disk), and text
    # fields (base64 images) may be as large as the body limit.
    MultiPartParser.spool_max_size = settings.max_upload_bytes + 1
    app = FastAPI(
        lifespan=lifespan,
        form_limits={"max_part_size": settings.max_upload_bytes},
        title="faceproof",
        version=__version__,
        # /docs is served offline by routers.web (local swagger-ui-dist); no ReDoc.
        docs_url=None,
        redoc_url=None,
        description=(
            "Self-hosted face biometrics: liveness, quality/ICAO, templates and 1:1 matching. "
            "API-compatible with the reference face web server; see docs/api-decisions.md."
        ),
    )
    app.state.services = services
    # Per worker: the bounded queue of compute requests, and the shared abuse counters.
    app.state.admission = Admission(settings.worker_threads, settings.queue_size)
    app.state.abuse = abuse
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    install_error_handlers(app)
    for router in _routers():
        app.include_router(router)
    _document_errors_as_answered(app)
    app.add_middleware(RequestContext)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(AccessLog)  # outermost: one access line per request, 413s included

    return app


def _routers() -> list[APIRouter]:
    return [
        utility.router,
        process.router,
        templates.router,
        liveness.router,
        match.router,
        identification.router,
        sdk_assets.router,
        web.router,
    ]


def _document_errors_as_answered(app: FastAPI) -> None:
    """Validation failures are answered 400/501 in the documented body, never FastAPI's 422:
    drop the 422 entries FastAPI adds to the schema so the document says what we do."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for ops in spec.get("paths", {}).values():
                for op in ops.values():
                    op.get("responses", {}).pop("422", None)
            schemas = spec.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
