"""Pydantic models shared by routers: request validation and the OpenAPI schema in one place."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MoveCloserBlock(BaseModel):
    passed: bool
    scale_ratio: float | None = Field(description="near/far inter-ocular distance (≥ 1.2)")
    planarity: float | None = Field(description="log(e_plane / e_rigid), ≥ 0 for a 3-D face")
    photometric: float | None = Field(description="1 − NCC under the best homography, ≥ 0.02")
    min_identity: float | None = Field(description="lowest cosine similarity of any frame pair")
    in_oval: list[bool] = Field(description="per far/near frame: face box inside its oval")


class ScreenLightBlock(BaseModel):
    passed: bool
    statistic: float | None = Field(description="share of the face's colour changes explained")
    threshold: float | None = Field(description="value the statistic had to reach")
    p_value: float | None = Field(None, description="permutation p-value (≤ 0.005 to pass)")
    contrast: float | None = Field(description="relative chroma modulation of the face")
    min_contrast: float = Field(description="below it: light_too_weak (retry)")


class ChallengeBlock(BaseModel):
    passed: bool
    move_closer: MoveCloserBlock
    screen_light: ScreenLightBlock


class LivenessBlock(BaseModel):
    """Why an SDK capture was accepted or refused (docs/liveness.md). For the integrator's
    backend only: never forward `reasons` to end users. Hidden when
    FACEPROOF_LIVENESS_DETAILS=false."""

    passive_score: float | None = Field(description="single-image score of the main frame")
    decision: str = Field(json_schema_extra={"enum": ["live", "spoof", "retry", "insecure"]})
    reasons: list[str] = Field(description="every failed check by name; [] when live")
    challenge: ChallengeBlock | None = Field(description="null when the capture had none")
    device_flags: list[str] = Field(
        default_factory=list, description="device flags seen (SDK's and the server's own)"
    )


class ErrorBody(BaseModel):
    """Every error. ``message`` for capture endpoints, ``feedbackCode`` for JSON endpoints."""

    code: int = Field(examples=[504])
    message: str | None = Field(None, examples=["ERROR_INVALID_FORMAT"])
    feedbackCode: str | None = Field(None, examples=["ERROR_INVALID_FORMAT"])
    refid: str = Field(examples=["W-face-GENERATE-0f1e…-1764158400000"])
    description: str = Field(examples=["(/image) Could not decode image."])
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


class QualityBlock(BaseModel):
    eyes_status: str = Field(description="OPEN iff eyes_open_metric ≥ 10, else CLOSED")
    eyes_open_metric: float = Field(ge=0, le=100)
    head_pose_check: bool
    quality_metric: float = Field(ge=0, le=100)
    qc_passed: bool


class EncryptedTemplate(BaseModel):
    data: str = Field(description="base64 AES-256-GCM ciphertext‖tag of the template bytes")
    key1: str = Field(description="base64 RSA-OAEP(SHA-1) of the AES key")
    key2: str = Field(description="base64 RSA-OAEP(SHA-1) of the GCM IV")


class IcaoData(BaseModel):
    model_config = ConfigDict(extra="allow")

    multiple_faces: bool
    eyes_full_visibility: bool
    background_continuity: int
    illumination_uniformity: int
    over_exposure: int
    under_exposure: int
    nose_visibility: int
    mouth_visibility: int
    top_visibility: int
    bottom_visibility: int
    eyeL_visibility: int
    eyeR_visibility: int
    sideL_visibility: int
    sideR_visibility: int
    is_compliant: bool
    templates: dict[str, str] | None = Field(None, description="token-frontal crops, base64")
    encrypted_templates: dict[str, EncryptedTemplate] | None = None


class ProcessData(BaseModel):
    bits_per_pixel: int
    capture_date: str = Field(examples=["2025-04-04T13:04:40.481 +0000"])
    width: int
    channels: int
    height: int
    resolution: str = Field(examples=["480x640x3"])
    as_highest_security_level_reached: str | None = Field(
        description="Highest liveness level passed; null when liveness is off or below LOW"
    )
    spoof_score: list[float] | None = None
    as_status: str | None = Field(
        None, description="NOT_EVALUATED when this deployment has no liveness stage"
    )
    quality: QualityBlock | None = None
    templates: dict[str, str] | None = Field(None, description="requested templates, base64")
    encrypted_templates: dict[str, EncryptedTemplate] | None = None
    aligned: str | None = Field(None, description="ISO token-frontal portrait, base64 JPEG")


class ProcessResponse(BaseModel):
    refid: str
    code: int = Field(examples=[200])
    message: str = Field(examples=["FEEDBACK_CAPTURED"])
    upload_ts: int = Field(description="server receipt time minus capture time, ms")
    data: ProcessData
    icao_data: IcaoData | None = None
    liveness: LivenessBlock | None = None


class GenerateRequest(BaseModel):
    image: str = Field(description="base64 face image (JPEG/PNG/ISO 19794-5), any size")
    qualityMode: str = Field(
        "ENROL",
        description="ENROL, VERIFY or DISABLED",
        json_schema_extra={"enum": ["ENROL", "VERIFY", "DISABLED"]},
    )


class GenerateData(BaseModel):
    height: int
    width: int
    channels: int
    bits_per_pixel: int
    templates: dict[str, str] = Field(
        description="{FACEPROOF_T1: base64 embedding template}; with "
        "FACEPROOF_TEMPLATE_KEY_COMPAT=true also IDENTY_TYPE_1 (the reference's key, same value)"
    )


class GenerateResponse(BaseModel):
    code: int = Field(examples=[200])
    feedbackCode: str = Field(examples=["FEEDBACK_TEMPLATE_GENERATED"])
    refid: str
    data: GenerateData
    icao_data: IcaoData
