"""Liveness answers: the ``liveness`` block of capture answers, /face/as and /challenge."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class LivenessInput(BaseModel):
    image: str = Field(description="base64 of the image that was evaluated")


class LivenessResponse(BaseModel):
    as_highest_security_level_reached: str | None = Field(
        description="Highest level whose threshold the score reaches; null below LOW",
        examples=["VERY_HIGH"],
    )
    is_spoof: bool = Field(description="score below the requested level's threshold")
    score: float = Field(description="liveness score in [0, 1], 1 = bona fide", examples=[0.91])
    error: int = Field(0, description="always 0 on success")
    refid: str
    input: LivenessInput | None = Field(
        None, description="the evaluated image; only with FACEPROOF_ECHO_INPUT_IMAGE=true"
    )
    liveness: LivenessBlock | None = Field(None, description="/secure/face/as only")


class OvalBody(BaseModel):
    cx: float = Field(description="centre x / frame width (unmirrored camera frame)")
    cy: float = Field(description="centre y / frame height")
    h: float = Field(description="oval height / frame height")


class StepBody(BaseModel):
    role: str = Field(description='"far" or "near": the role of this step\'s frames')
    oval: OvalBody
    hold_ms: int = Field(description="hold this long once the face is inside, then capture")


class ToleranceBody(BaseModel):
    center: float = Field(description="|box centre − oval centre| ≤ center·H on each axis")
    size_min: float = Field(description="box height / (h·H) at least")
    size_max: float = Field(description="box height / (h·H) at most")


class ColourBody(BaseModel):
    color: str = Field(examples=["#ff00ff"])
    ms: int


class LightBody(BaseModel):
    colors: list[ColourBody] = Field(description="shown in order around the near oval")
    settle: float = Field(description="fraction of each colour to wait before its frame")


class ChallengeBody(BaseModel):
    id: str
    nonce: str = Field(
        description="use as the envelope's `nonce`; send `challenge: {id, light_start_t}`"
    )
    type: str = Field(examples=["move_closer+screen_light"])
    order: list[str] = Field(
        description='the two distances in the order to capture them, "far"/"near" (frame roles)',
        examples=[["far", "near"]],
    )
    issued_at_ms: int
    expires_at_ms: int = Field(description="answer before this (≤ 2 min after issue)")
    min_scale_ratio: float = Field(description="near/far face size ratio needed")
    min_step_ms: int
    max_step_ms: int
    steps: list[StepBody] = Field(description="the two steps, in `order`")
    oval_tolerance: ToleranceBody
    step_timeout_ms: int = Field(description="stop waiting for the oval after this")
    light: LightBody | None


class ChallengeResponse(BaseModel):
    code: int = 200
    message: str = "CHALLENGE_ISSUED"
    refid: str
    challenge: ChallengeBody
