"""``/process`` (SDK capture) answers, and the ICAO block generateTemplateFromImage shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from faceproof.schemas.liveness import LivenessBlock


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
