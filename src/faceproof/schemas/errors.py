"""The error body every endpoint answers with, and its OpenAPI ``responses`` entry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from faceproof.schemas.liveness import LivenessBlock


class ErrorBody(BaseModel):
    """Every error. ``message`` for capture endpoints, ``feedbackCode`` for JSON endpoints."""

    code: int = Field(examples=[504])
    message: str | None = Field(None, examples=["ERROR_INVALID_FORMAT"])
    feedbackCode: str | None = Field(None, examples=["ERROR_INVALID_FORMAT"])
    refid: str = Field(examples=["W-face-GENERATE-0f1e…-1764158400000"])
    description: str = Field(
        description="the field, what is wrong and what to send instead (docs/api-decisions.md)",
        examples=[
            "(/image) Could not decode image: truncated or corrupt image data. Send a complete "
            "JPEG or PNG file."
        ],
    )
    data: dict[str, Any] | None = Field(
        None, description="FEEDBACK_RETRY*: `{image}` = the capture, base64 JPEG"
    )
    quality: bool | None = Field(
        None, description="FEEDBACK_RETRY*: false when poor quality may explain the refusal"
    )
    liveness: LivenessBlock | None = Field(None, description="FEEDBACK_RETRY*: why")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Documented error (code 401/501/503–510/601/900/901)"},
    413: {"model": ErrorBody, "description": "Body larger than FACEPROOF_MAX_UPLOAD_BYTES"},
    500: {"model": ErrorBody, "description": "604 ERROR_REQUEST_EXPIRED or 500 server error"},
}
