"""``faceproof.client``: a typed Python client for a faceproof server (sync and async, httpx).

::

    from faceproof.client import FaceproofClient, InvalidImage

    with FaceproofClient("http://127.0.0.1:8080") as fp:
        answer = fp.match_with_selfie("a.jpg", "b.jpg", "HIGH")
        print(answer.similarityScore, answer.matchHighestSecurityLevelReached)

Every endpoint is one method; results are the server's documented response models; error
answers raise the class named for the documented error (docs/client.md).
"""

from faceproof.client.aio import AsyncFaceproofClient
from faceproof.client.errors import (
    ClientNotExists,
    DecryptionFailed,
    DuplicateSubject,
    FaceproofError,
    ImageTooLarge,
    InsecureCamera,
    InvalidAsLevel,
    InvalidFormat,
    InvalidImage,
    InvalidMatchLevel,
    InvalidRequest,
    LivenessRetry,
    MethodNotAllowed,
    MultipleFaces,
    NoTemplatesSpecified,
    NotFound,
    PoorQuality,
    RequestExpired,
    ServerBusy,
    ServerError,
    StoreUnavailable,
    TooManyAttempts,
    TransportError,
    WrongResolution,
)
from faceproof.client.frames import FrameSizeError, capture_frame
from faceproof.client.sync import FaceproofClient

__all__ = [
    "AsyncFaceproofClient",
    "ClientNotExists",
    "DecryptionFailed",
    "DuplicateSubject",
    "FaceproofClient",
    "FaceproofError",
    "FrameSizeError",
    "ImageTooLarge",
    "InsecureCamera",
    "InvalidAsLevel",
    "InvalidFormat",
    "InvalidImage",
    "InvalidMatchLevel",
    "InvalidRequest",
    "LivenessRetry",
    "MethodNotAllowed",
    "MultipleFaces",
    "NoTemplatesSpecified",
    "NotFound",
    "PoorQuality",
    "RequestExpired",
    "ServerBusy",
    "ServerError",
    "StoreUnavailable",
    "TooManyAttempts",
    "TransportError",
    "WrongResolution",
    "capture_frame",
]
