"""``/face/generateTemplateFromImage`` request and answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from faceproof.schemas.process import IcaoData


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
