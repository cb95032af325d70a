"""``icao_data``: every ICAO metric of one face and the ``is_compliant`` rule.

``is_compliant`` — the reference's rule, whose beginning is lost in the extracted text, reads
"… nose_visibility is greater than 45, mouth_visibility is greater than 45, sideL/sideR/top/
bottom_visibility greater than 20, no multiple faces". Its own example has every one of those
satisfied yet ``is_compliant: false`` with ``eyes_full_visibility: false`` and
``eyeL_visibility: 50``, so the lost start must be about the eyes. Our start (documented in
docs/quality-icao.md): ``eyes_full_visibility`` is true, ``eyeL``/``eyeR_visibility`` > 45 (the
same bar as the other features), and neither ``over_exposure`` nor ``under_exposure`` reaches
50 (half-scale: most of the face without detail is not an ICAO photo).
``background_continuity`` and ``illumination_uniformity`` stay informative only: the
reference's compliant-looking example scores 14 and 19 on them.

A face the mesh model itself does not confirm (its face flag below ``MIN_MESH_SCORE``; heavy
occlusion such as dark glasses plus a mask does that) has landmarks that cannot be trusted to
place the regions: its eyes are not confirmed visible and it is not compliant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faceproof.icao.background import BackgroundContinuity
from faceproof.icao.exposure import OverExposure, UnderExposure
from faceproof.icao.eyes import EyesFullVisibility
from faceproof.icao.illumination import IlluminationUniformity
from faceproof.icao.visibility import measure_visibility
from faceproof.quality.config import COMPLIANT, MIN_MESH_SCORE, CompliantRule
from faceproof.quality.eyes_open import EyesOpen
from faceproof.quality.session import QualitySession


@dataclass
class IcaoReport:
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
    eyeL_visibility: int  # image-left eye (the subject's right in an un-mirrored photo)
    eyeR_visibility: int
    sideL_visibility: int  # temple beside the image-left eye
    sideR_visibility: int
    is_compliant: bool
    details: dict[str, float | bool] = field(default_factory=dict)

    def to_json(self, templates: dict[str, Any] | None = None) -> dict[str, Any]:
        """The reference's ``icao_data`` object in its key order; ``templates`` (the ICAO
        crops, added by the endpoint) goes where the reference shows it."""
        out: dict[str, Any] = {
            "multiple_faces": self.multiple_faces,
            "eyes_full_visibility": self.eyes_full_visibility,
            "background_continuity": self.background_continuity,
            "illumination_uniformity": self.illumination_uniformity,
            "over_exposure": self.over_exposure,
            "under_exposure": self.under_exposure,
            "nose_visibility": self.nose_visibility,
            "mouth_visibility": self.mouth_visibility,
            "top_visibility": self.top_visibility,
            "bottom_visibility": self.bottom_visibility,
        }
        if templates is not None:
            out["templates"] = templates
        out |= {
            "eyeL_visibility": self.eyeL_visibility,
            "eyeR_visibility": self.eyeR_visibility,
            "sideL_visibility": self.sideL_visibility,
            "sideR_visibility": self.sideR_visibility,
            "is_compliant": self.is_compliant,
        }
        return out


def is_compliant(r: IcaoReport, rule: CompliantRule = COMPLIANT) -> bool:
    """The reference thresholds plus our choice for its lost start (module docstring)."""
    return (
        r.eyes_full_visibility
        and r.eyeL_visibility > rule.eye
        and r.eyeR_visibility > rule.eye
        and r.over_exposure < rule.exposure
        and r.under_exposure < rule.exposure
        and r.nose_visibility > rule.nose
        and r.mouth_visibility > rule.mouth
        and r.sideL_visibility > rule.side
        and r.sideR_visibility > rule.side
        and r.top_visibility > rule.top
        and r.bottom_visibility > rule.bottom
        and not r.multiple_faces
    )


def assess_icao(
    s: QualitySession, multiple_faces: bool, *, eyes_open_metric: float | None = None
) -> IcaoReport:
    """Every ``icao_data`` field for the main face. ``eyes_open_metric`` may be passed from
    the quality report (it is recomputed otherwise; both are cheap)."""
    vis = measure_visibility(s)
    if eyes_open_metric is None:
        eyes_open_metric = EyesOpen().measure(s).score
    eyes = EyesFullVisibility().measure(
        s, eyes_open_metric, vis["eyeL_visibility"].score, vis["eyeR_visibility"].score
    )
    background = BackgroundContinuity().measure(s)
    illumination = IlluminationUniformity().measure(s)
    over = OverExposure().measure(s)
    under = UnderExposure().measure(s)
    assert s.record.landmarks is not None
    confirmed = s.record.landmarks.mesh_score >= MIN_MESH_SCORE
    report = IcaoReport(
        multiple_faces=bool(multiple_faces),
        eyes_full_visibility=eyes.visible and confirmed,
        background_continuity=round(background.score),
        illumination_uniformity=round(illumination.score),
        over_exposure=round(over.score),
        under_exposure=round(under.score),
        nose_visibility=vis["nose_visibility"].score,
        mouth_visibility=vis["mouth_visibility"].score,
        top_visibility=vis["top_visibility"].score,
        bottom_visibility=vis["bottom_visibility"].score,
        eyeL_visibility=vis["eyeL_visibility"].score,
        eyeR_visibility=vis["eyeR_visibility"].score,
        sideL_visibility=vis["sideL_visibility"].score,
        sideR_visibility=vis["sideR_visibility"].score,
        is_compliant=False,
    )
    report.is_compliant = confirmed and is_compliant(report)
    report.details = {
        "mesh_confirmed": confirmed,
        **{f"{k}_fraction": round(v.fraction, 4) for k, v in vis.items()},
        "eyes_closed": eyes.closed,
        "eyes_covered": eyes.covered,
        "eyes_glare": eyes.glare,
        "background_edge_share": round(background.raw, 4),
        "illumination_histogram_intersection": round(illumination.raw, 4),
        "over_exposed_share": round(over.raw, 4),
        "under_exposed_share": round(under.raw, 4),
    }
    return report
