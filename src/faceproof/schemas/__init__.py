"""The HTTP API's request and response models (pydantic), in one place below both sides.

The routers validate requests and document answers with them (the OpenAPI at
``/openapi.json``), and :mod:`faceproof.client` parses answers with the same classes, so the
server, its document and the client cannot drift apart. Nothing here imports the web layer.
"""

from faceproof.schemas.errors import ERROR_RESPONSES, ErrorBody
from faceproof.schemas.identification import (
    DeletedResponse,
    EnrolResponse,
    IdentifyResponse,
    SubjectsResponse,
)
from faceproof.schemas.liveness import ChallengeResponse, LivenessBlock, LivenessResponse
from faceproof.schemas.match import MatchResponse
from faceproof.schemas.process import ProcessResponse
from faceproof.schemas.templates import GenerateResponse

__all__ = [
    "ERROR_RESPONSES",
    "ChallengeResponse",
    "DeletedResponse",
    "EnrolResponse",
    "ErrorBody",
    "GenerateResponse",
    "IdentifyResponse",
    "LivenessBlock",
    "LivenessResponse",
    "MatchResponse",
    "ProcessResponse",
    "SubjectsResponse",
]
