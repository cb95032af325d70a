"""embedding_template.py: FACEPROOF_T1 round trip and each documented failure."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
import pytest

from faceproof.errors import ApiError, Problem, problem
from faceproof.pipeline.embedding_template import (
    FLAG_L2_NORMALISED,
    decode_embedding,
    encode_embedding,
)

MODEL = "mobilefacenet-arcface-v1"
DIGEST = hashlib.sha256(b"pretend model bytes").digest()


def _vec(dim: int = 128, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _fails(data: bytes, **kw: object) -> str:
    with pytest.raises(ApiError) as info:
        decode_embedding(data, **kw)  # type: ignore[arg-type]
    assert info.value.kind.code == 504
    return info.value.description


@pytest.mark.parametrize("dim", [1, 128, 512])
def test_round_trip_within_float16_precision(dim: int) -> None:
    v = _vec(dim)
    t = decode_embedding(encode_embedding(v, MODEL, DIGEST, 87), MODEL, DIGEST)
    assert (t.model_id, t.model_digest, t.quality, t.dimension) == (MODEL, DIGEST[:16], 87, dim)
    assert t.vector.dtype == np.float32
    # float16 has a 10-bit mantissa: relative error ≤ 2^-11 for normal numbers.
    assert np.all(np.abs(t.vector - v) <= np.abs(v) * 2.0**-11 + 2.0**-24)
    assert t.flags & FLAG_L2_NORMALISED
    assert float(t.vector @ v) > 0.9999


def test_layout_is_as_documented() -> None:
    v = np.array([1.0, -0.5], np.float32)
    data = encode_embedding(v, "m", DIGEST[:16], 5, flags=0)
    expected_body = (
        b"FPT1"
        + bytes([1, 1])
        + b"m"
        + DIGEST[:16]
        + struct.pack("<H", 2)
        + np.array([1.0, -0.5], "<f2").tobytes()
        + bytes([5, 0])
    )
    assert data == expected_body + struct.pack("<I", zlib.crc32(expected_body))


def test_flipped_byte_fails_the_checksum() -> None:
    data = encode_embedding(_vec(), MODEL, DIGEST, 50)
    for at in (5 + 1 + 3, 6 + len(MODEL) + 4, len(data) - 40, len(data) - 6, len(data) - 1):
        bad = bytearray(data)
        bad[at] ^= 0x10
        desc = _fails(bytes(bad), expected_model_id=None, expected_digest=None)
        assert (
            desc
            == problem(Problem.BROKEN_TEMPLATE, "/template", reason="checksum mismatch").description
        ), at


@pytest.mark.parametrize("cut", [1, 2, 100, 200])
def test_truncation(cut: int) -> None:
    data = encode_embedding(_vec(), MODEL, DIGEST, 50)
    desc = _fails(data[:-cut])
    assert desc == problem(Problem.BROKEN_TEMPLATE, "/template", reason="truncated").description


def test_trailing_bytes() -> None:
    data = encode_embedding(_vec(), MODEL, DIGEST, 50)
    assert (
        _fails(data + b"\x00")
        == problem(Problem.BROKEN_TEMPLATE, "/template", reason="length mismatch").description
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"FPT", b"IDENTY\x01\x00\x01", b"FPT2\x01" + bytes(40), b"\xff\xd8\xff\xe0" + bytes(40)],
)
def test_foreign_data_is_unsupported(data: bytes) -> None:
    assert _fails(data) == problem(Problem.FOREIGN_TEMPLATE, "/template").description


def test_future_version_is_unsupported() -> None:
    data = bytearray(encode_embedding(_vec(), MODEL, DIGEST, 50))
    data[4] = 2
    assert _fails(bytes(data)) == problem(Problem.FOREIGN_TEMPLATE, "/template").description


def test_wrong_model_is_unsupported() -> None:
    data = encode_embedding(_vec(), MODEL, DIGEST, 50)
    assert (
        _fails(data, expected_model_id="other-model")
        == problem(Problem.FOREIGN_TEMPLATE, "/template").description
    )
    other = hashlib.sha256(b"retrained").digest()
    assert (
        _fails(data, expected_digest=other)
        == problem(Problem.FOREIGN_TEMPLATE, "/template").description
    )
    assert decode_embedding(data, MODEL, DIGEST[:16]).model_id == MODEL  # 16-byte form works


def test_dimension_checks() -> None:
    data = encode_embedding(_vec(128), MODEL, DIGEST, 50)
    desc = _fails(data, expected_dim=512, field="/image/template")
    assert (
        desc
        == problem(Problem.BROKEN_TEMPLATE, "/image/template", reason="bad dimension").description
    )


def test_encoder_validates() -> None:
    with pytest.raises(ValueError):
        encode_embedding(np.array([np.nan], np.float32), MODEL, DIGEST, 50)
    with pytest.raises(ValueError):
        encode_embedding(_vec(), "", DIGEST, 50)
    with pytest.raises(ValueError):
        encode_embedding(_vec(), "modèle", DIGEST, 50)
    with pytest.raises(ValueError):
        encode_embedding(_vec(), MODEL, b"short", 50)
    with pytest.raises(ValueError):
        encode_embedding(_vec(), MODEL, DIGEST, 101)
    assert not decode_embedding(encode_embedding([3.0, 4.0], MODEL, DIGEST, 1)).flags & 1


def _reseal(body: bytes) -> bytes:
    """Recompute the CRC so that only the semantic check under test can fail."""
    return body + struct.pack("<I", zlib.crc32(body))


def test_semantic_checks_behind_a_valid_checksum() -> None:
    good = encode_embedding(_vec(4), "m", DIGEST, 50)[:-4]
    bad_quality = good[:-2] + bytes([101]) + good[-1:]
    assert _fails(_reseal(bad_quality)).split(". ")[0].endswith(": invalid quality")
    inf = np.array([np.inf], "<f2").tobytes()
    bad_vector = good[:25] + inf + good[27:]  # the first component (offset 24 + L)
    assert _fails(_reseal(bad_vector)).split(". ")[0].endswith(": invalid vector")
    zero_dim = b"FPT1" + bytes([1, 1]) + b"m" + DIGEST[:16] + struct.pack("<H", 0) + bytes(2)
    assert _fails(_reseal(zero_dim)).split(". ")[0].endswith(": bad dimension")
    no_id = b"FPT1" + bytes([1, 0]) + DIGEST[:16] + struct.pack("<H", 1) + bytes(4)
    assert _fails(_reseal(no_id)).split(". ")[0].endswith(": invalid model id")


def test_embedding_method_is_marked_and_unmarked_templates_read_as_flip() -> None:
    """Bit 1 of the flags says the vector embeds the crop alone (plain); templates made
    before the bit existed carry flags 0x01 and were flip-averaged. Old readers ignore it."""
    from faceproof.models.mobilefacenet import DEFAULT_EMBEDDING
    from faceproof.pipeline.embedding_template import FLAG_PLAIN_EMBEDDING

    v = _vec()
    plain = decode_embedding(encode_embedding(v, MODEL, DIGEST, 50, embedding="plain"))
    flip = decode_embedding(encode_embedding(v, MODEL, DIGEST, 50, embedding="flip"))
    assert plain.flags == FLAG_L2_NORMALISED | FLAG_PLAIN_EMBEDDING and plain.embedding == "plain"
    assert flip.flags == FLAG_L2_NORMALISED and flip.embedding == "flip"
    legacy = decode_embedding(encode_embedding(v, MODEL, DIGEST, 50, flags=FLAG_L2_NORMALISED))
    assert legacy.embedding == "flip"
    assert decode_embedding(encode_embedding(v, MODEL, DIGEST, 50)).embedding == DEFAULT_EMBEDDING
    np.testing.assert_array_equal(plain.vector, flip.vector)  # the mark changes nothing else
