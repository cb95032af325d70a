"""FACEPROOF_T1: our binary face-embedding template (``generateTemplateFromImage``).

The reference returns its own proprietary ``IDENTY_TYPE_1``; we cannot produce that, so we
return ours under our own name. An embedding is only comparable with one from the same model,
so the template names the model and pins its file digest: a template from another model is
refused instead of silently scoring nonsense. Byte layout: docs/templates.md.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from faceproof.errors import ApiError, Problem, problem
from faceproof.face.record import F32
from faceproof.models.mobilefacenet import DEFAULT_EMBEDDING, EmbeddingMethod

TEMPLATE_NAME = "FACEPROOF_T1"
#: The reference's key for its embedding template; with FACEPROOF_TEMPLATE_KEY_COMPAT the
#: answer also carries our template under it (same bytes; docs/templates.md).
REFERENCE_TEMPLATE_NAME = "IDENTY_TYPE_1"
MAGIC = b"FPT1"
VERSION = 1
DIGEST_LEN = 16
FLAG_L2_NORMALISED = 0x01
#: The vector embeds the aligned crop alone; without it, the crop and its mirror averaged
#: (every template made before this bit existed). Scores across the two: docs/matching.md.
FLAG_PLAIN_EMBEDDING = 0x02
_MAX_DIM = 0xFFFF


@dataclass(frozen=True)
class EmbeddingTemplate:
    """A decoded template; ``vector`` is float32 (widened from the stored float16)."""

    version: int
    model_id: str
    model_digest: bytes
    vector: F32
    quality: int
    flags: int

    @property
    def dimension(self) -> int:
        return int(self.vector.shape[0])

    @property
    def embedding(self) -> EmbeddingMethod:
        """How the vector was made (FLAG_PLAIN_EMBEDDING; unmarked templates are flip)."""
        return "plain" if self.flags & FLAG_PLAIN_EMBEDDING else "flip"


def _digest16(digest: bytes) -> bytes:
    """The first 16 bytes of a model's SHA-256 (a full 32-byte digest is accepted)."""
    if len(digest) not in (DIGEST_LEN, 32):
        raise ValueError("model digest must be 16 bytes (or a full 32-byte SHA-256)")
    return bytes(digest[:DIGEST_LEN])


def encode_embedding(
    vec: ArrayLike,
    model_id: str,
    model_digest: bytes,
    quality: int,
    flags: int | None = None,
    embedding: EmbeddingMethod = DEFAULT_EMBEDDING,
) -> bytes:
    """Serialise one embedding. ``flags`` defaults to L2_NORMALISED when the vector is unit,
    plus PLAIN_EMBEDDING when ``embedding`` (the server's method by default) is plain."""
    v = np.asarray(vec, dtype=np.float32).reshape(-1)
    if not 1 <= v.size <= _MAX_DIM:
        raise ValueError("embedding dimension must be 1..65535")
    if not np.all(np.isfinite(v)) or np.any(np.abs(v) > 65504.0):
        raise ValueError("embedding values must be finite and within float16 range")
    ident = model_id.encode("ascii")
    if not 1 <= len(ident) <= 255 or not ident.isascii() or not model_id.isprintable():
        raise ValueError("model id must be 1..255 printable ASCII characters")
    if not isinstance(quality, int) or not 0 <= quality <= 100:
        raise ValueError("quality must be an integer 0..100")
    if flags is None:
        flags = FLAG_L2_NORMALISED if abs(float(np.linalg.norm(v)) - 1.0) < 1e-3 else 0
        flags |= FLAG_PLAIN_EMBEDDING if embedding == "plain" else 0
    if not 0 <= flags <= 0xFF:
        raise ValueError("flags must fit one byte")
    body = b"".join(
        (
            MAGIC,
            struct.pack("<BB", VERSION, len(ident)),
            ident,
            _digest16(model_digest),
            struct.pack("<H", v.size),
            v.astype("<f2").tobytes(),
            struct.pack("<BB", quality, flags),
        )
    )
    return body + struct.pack("<I", zlib.crc32(body))


def decode_embedding(
    data: bytes,
    expected_model_id: str | None = None,
    expected_digest: bytes | None = None,
    field: str = "/template",
    expected_dim: int | None = None,
) -> EmbeddingTemplate:
    """Parse and verify a template; checks run in the order documented in docs/templates.md.

    Foreign magic, version or model → "(/template) Unsupported template"; damage →
    "(/template) unable to decode template: <reason>" (both ERROR_INVALID_FORMAT).
    """
    unsupported = problem(Problem.FOREIGN_TEMPLATE, field)

    def broken(reason: str) -> ApiError:
        return problem(Problem.BROKEN_TEMPLATE, field, reason=reason)

    buf = bytes(data)
    if len(buf) < len(MAGIC) + 1 or buf[:4] != MAGIC or buf[4] != VERSION:
        raise unsupported
    if len(buf) < 6:
        raise broken("truncated")
    id_len = buf[5]
    dim_at = 6 + id_len + DIGEST_LEN
    if len(buf) < dim_at + 2:
        raise broken("truncated")
    (dim,) = struct.unpack_from("<H", buf, dim_at)
    need = dim_at + 2 + 2 * dim + 2 + 4
    if len(buf) < need:
        raise broken("truncated")
    if len(buf) > need:
        raise broken("length mismatch")
    (crc,) = struct.unpack_from("<I", buf, need - 4)
    if zlib.crc32(buf[: need - 4]) != crc:
        raise broken("checksum mismatch")
    try:
        model_id = buf[6 : 6 + id_len].decode("ascii")
    except UnicodeDecodeError:
        raise broken("invalid model id") from None
    if id_len == 0:
        raise broken("invalid model id")
    digest = buf[6 + id_len : dim_at]
    if expected_model_id is not None and model_id != expected_model_id:
        raise unsupported
    if expected_digest is not None and digest != _digest16(expected_digest):
        raise unsupported
    if dim == 0 or (expected_dim is not None and dim != expected_dim):
        raise broken("bad dimension")
    vector = np.frombuffer(buf, dtype="<f2", count=dim, offset=dim_at + 2).astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise broken("invalid vector")
    quality, flags = buf[need - 6], buf[need - 5]
    if quality > 100:
        raise broken("invalid quality")
    return EmbeddingTemplate(VERSION, model_id, digest, vector, quality, flags)
