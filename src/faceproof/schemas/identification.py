"""1:N identification: enrol, identify, list and erase subjects (docs/identification.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from faceproof.identification.levels import FPIR_TARGETS
from faceproof.matching.levels import LEVELS
from faceproof.schemas.liveness import LivenessBlock
from faceproof.schemas.match import TemplateIn

#: Most candidates one identify answer may return (maxResults).
MAX_RESULTS = 100
_LEVEL_DOC: dict[str, Any] = {"enum": list(LEVELS)}
_LEVELS_TEXT = ", ".join(f"{lv} (FPIR {FPIR_TARGETS[lv]:g})" for lv in LEVELS)


class EnrolRequest(BaseModel):
    subjectId: str = Field(
        description="The integrator's id of the person: 1–128 of A–Z a–z 0–9 _ . @ : + = -"
    )
    image: TemplateIn | None = Field(
        None, description="A face image (quality gated as ENROL); or give `template`"
    )
    template: str | None = Field(
        None, description="base64 FACEPROOF_T1 embedding template from generateTemplateFromImage"
    )
    duplicateLevel: str | None = Field(
        None,
        description="Refuse (409) when another subject already matches at this level",
        json_schema_extra=_LEVEL_DOC,
    )


class EnrolResponse(BaseModel):
    code: int = Field(200)
    feedbackCode: Literal["FEEDBACK_ENROLLED"]
    refid: str
    gallery: str
    subjectId: str
    templateId: str = Field(description="Id of the stored (encrypted) template")
    templates: int = Field(description="The subject's templates, this one included")
    created: bool = Field(description="The subject is new in this gallery")


class SubjectOut(BaseModel):
    subjectId: str
    templates: int
    enrolledAt: int = Field(description="First enrolment, epoch ms")


class SubjectsResponse(BaseModel):
    code: int = Field(200)
    feedbackCode: Literal["FEEDBACK_OK"]
    refid: str
    gallery: str
    total: int = Field(description="Subjects in the gallery")
    offset: int
    limit: int
    subjects: list[SubjectOut] = Field(description="In subjectId order")


class DeletedResponse(BaseModel):
    code: int = Field(200)
    feedbackCode: Literal["FEEDBACK_DELETED"]
    refid: str
    gallery: str
    subjectId: str | None = None
    templatesDeleted: int


class IdentifyRequest(BaseModel):
    gallery: str = Field(description="Gallery to search")
    level: str = Field(description=f"Open-set level: {_LEVELS_TEXT}", json_schema_extra=_LEVEL_DOC)
    maxResults: int = Field(10, description=f"Candidates returned, 1–{MAX_RESULTS}")
    image: TemplateIn | None = Field(None, description="The probe image; or give `template`")
    template: str | None = Field(None, description="base64 FACEPROOF_T1 embedding template")


class CandidateOut(BaseModel):
    subjectId: str
    similarityScore: int = Field(
        ge=0, le=100, description="As /matchWithSelfie: 80↔FAR 1:1k … 98↔1:1M per comparison"
    )
    levelReached: str = Field(
        description="Highest identification level met for this gallery's size",
        json_schema_extra={"enum": list(LEVELS)},
    )


class IdentifyResponse(BaseModel):
    code: int = Field(200)
    feedbackCode: Literal["FEEDBACK_MATCHED"]
    refid: str
    gallery: str
    gallerySize: int = Field(description="Templates searched: the N the levels are stated for")
    level: str
    identified: bool = Field(description="The best candidate reaches the requested level")
    candidates: list[CandidateOut] = Field(
        description="Best first; only candidates reaching at least LOW"
    )
    multipleFacesImage: bool
    liveness: LivenessBlock | None = Field(None, description="SDK captures only")
