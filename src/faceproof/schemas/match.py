"""1:1 matching: /matchWithSelfie, /matchWithPictureId and /verifyWithPictureId."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from faceproof.matching.levels import LEVELS, NONE
from faceproof.pipeline.decode import TEMPLATE_FORMATS
from faceproof.schemas.liveness import LivenessBlock

_LEVEL_DOC: dict[str, Any] = {"enum": list(LEVELS)}
_FORMAT_DOC: dict[str, Any] = {"enum": list(TEMPLATE_FORMATS)}


class TemplateIn(BaseModel):
    template: str = Field(description="base64 of the image (standard or URL-safe alphabet)")
    format: str = Field(
        description="JPEG, PNG or ISO_19794_5 (the JPEG inside a 19794-5 record); "
        "others answer 504",
        json_schema_extra=_FORMAT_DOC,
    )


class MatchRequest(BaseModel):
    image: TemplateIn = Field(description="The selfie (640×480 recommended, not cropped)")
    imageToVerifyAgainst: TemplateIn = Field(
        description="The second selfie, or the portrait extracted from an ID card"
    )
    level: str = Field(
        description="LOW, MEDIUM, HIGH, VERY_HIGH or HIGHEST (FARs in docs/matching.md); "
        "anything else answers 505",
        json_schema_extra=_LEVEL_DOC,
    )


class MatchResponse(BaseModel):
    code: int = Field(200)
    feedbackCode: Literal["FEEDBACK_MATCHED"]
    refid: str
    score: float = Field(description="Distance 1 − cosine similarity; closer to 0 = same person")
    similarityScore: int = Field(
        ge=0, le=100, description="Calibrated: selfie 80↔1:1k … 98↔1:1M; ID 60↔1:200 … 90↔1:10k"
    )
    possibleMatch: bool = Field(description="The requested level's threshold is met")
    multipleFacesImage: bool
    multipleFacesImageToVerifyAgainst: bool | None = Field(
        None, description="/matchWithSelfie only"
    )
    matchHighestSecurityLevelReached: str = Field(
        description="Highest level met, or NONE", json_schema_extra={"enum": [*LEVELS, NONE]}
    )
    liveness: LivenessBlock | None = Field(None, description="/verifyWithPictureId only")
