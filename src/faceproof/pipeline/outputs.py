"""Turns an analysed face into the documented output blocks (quality, icao_data, templates).

Shared by /process and /face/generateTemplateFromImage so both report the same measurements
the same way.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from faceproof.crypto.template_encryption import encrypt_templates
from faceproof.face.record import U8, FaceRecord, PersonMask
from faceproof.icao import assess_icao
from faceproof.pipeline import iso19794
from faceproof.pipeline.align import aligned_crop, token_frontal, transform_points
from faceproof.pipeline.background import replace_background
from faceproof.pipeline.engine import FaceEngine, FaceSearch
from faceproof.pipeline.templates import TEMPLATE_NAMES, encode_jpeg
from faceproof.pipeline.templates import encode_templates as _encode
from faceproof.quality import assess_quality
from faceproof.quality.session import QualitySession

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

TEMPLATE_FORMATS = TEMPLATE_NAMES


@dataclass
class FaceOutputs:
    """Everything measured for one image, computed once and reused by the blocks."""

    rgb: U8
    record: FaceRecord
    search: FaceSearch
    mask: PersonMask | None  # person probability, computed only when needed
    session: Any  # faceproof.quality.session.QualitySession
    quality: Any = None  # faceproof.quality.QualityReport once quality_block ran


def measure(
    engine: FaceEngine, rgb: U8, record: FaceRecord, search: FaceSearch, *, need_mask: bool
) -> FaceOutputs:
    mask = engine.person_mask(rgb) if need_mask else None
    session = QualitySession(rgb, record, mask)
    return FaceOutputs(rgb, record, search, mask, session)


def quality_block(out: FaceOutputs) -> dict[str, Any]:
    q = assess_quality(out.session)
    out.quality = q
    return {
        "eyes_status": q.eyes_status,
        "eyes_open_metric": round(float(q.eyes_open_metric), 5),
        "head_pose_check": bool(q.head_pose_check),
        "quality_metric": round(float(q.quality_metric), 5),
        "qc_passed": bool(q.qc_passed),
    }


def icao_report(out: FaceOutputs) -> Any:
    eyes = out.quality.eyes_open_metric if out.quality is not None else None
    return assess_icao(out.session, out.search.multiple, eyes_open_metric=eyes)


def jpeg_b64(rgb: U8, quality: int = 90) -> str:
    return base64.b64encode(encode_jpeg(rgb, quality)).decode("ascii")


def _eyes(record: FaceRecord) -> tuple[np.ndarray, np.ndarray]:
    if record.five_points is None:
        raise ValueError("record has no five points")
    return record.five_points[0], record.five_points[1]


def iso_fields(
    record: FaceRecord, width: int, height: int, *, image_type: str, matrix: Any = None
) -> iso19794.IsoFields:
    """19794-5 fields from our measurements (points optionally mapped into a crop)."""
    points: list[iso19794.FeaturePoint] = []
    if record.five_points is not None:
        pts = np.asarray(record.five_points, dtype=np.float64)
        if matrix is not None:
            pts = transform_points(matrix, pts)
        points = iso19794.five_point_features(pts.tolist(), width, height)
    pose = None
    if record.pose is not None:
        pose = (record.pose.yaw, record.pose.pitch, record.pose.roll)
    return iso19794.IsoFields(feature_points=points, pose=pose, image_type=image_type)  # type: ignore[arg-type]


def encode_templates(
    rgb: U8, requested: list[str], record: FaceRecord, *, image_type: str, matrix: Any = None
) -> dict[str, str]:
    h, w = rgb.shape[:2]
    fields = iso_fields(record, w, h, image_type=image_type, matrix=matrix)
    return _encode(rgb, requested, iso_fields=fields)


def protect(templates: dict[str, str], key: RSAPublicKey | None) -> dict[str, Any]:
    """Templates as documented: plain base64, or per-template hybrid encryption."""
    if key is None:
        return dict(templates)

    return dict(encrypt_templates(templates, key))


def background_applied(out: FaceOutputs, colour: tuple[int, int, int] | None) -> U8:
    if out.mask is None:
        raise ValueError("person mask was not computed")
    return replace_background(out.rgb, out.mask.full, colour)


def aligned(rgb: U8, record: FaceRecord) -> U8:
    left, right = _eyes(record)
    return aligned_crop(rgb, left, right)


def icao_block(
    out: FaceOutputs,
    source: U8,
    requested: list[str],
    key: RSAPublicKey | None,
    colour: tuple[int, int, int] | None,
) -> dict[str, Any]:
    """``icao_data``: every metric, with the ICAO (token frontal) templates in their place."""
    report = icao_report(out)
    left, right = _eyes(out.record)
    token = token_frontal(source, left, right, fill=colour)
    templates = encode_templates(
        token.image, requested, out.record, image_type="TOKEN_FRONTAL", matrix=token.matrix
    )
    if key is None:
        return dict(report.to_json(templates=templates))
    body = dict(report.to_json())
    body["encrypted_templates"] = protect(templates, key)
    return body
