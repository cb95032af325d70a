"""Every tuning number of the quality and ICAO measures, in one place.

Each measure's raw value is mapped to 0–100 by a :class:`~faceproof.quality.scale.Sigmoid`
(``x0`` scores 50, ``w`` is the spread); the rules (``qc_passed``, ``is_compliant``, the
ENROL/VERIFY gates) have their thresholds here too. docs/quality-icao.md explains each value
and how it was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from faceproof.quality.scale import Sigmoid


@dataclass(frozen=True)
class SkinParams:
    """The per-pixel "looks like this person's skin" test (see QualitySession)."""

    min_patch_pixels: int = 30
    agree: float = 9.0  # patch colour difference (ΔE_ab + 20·|ln ΔL|) to pool patches
    prior_chroma_min: float = 7.0
    prior_chroma_max: float = 45.0
    prior_hue_min: float = 15.0  # degrees
    prior_hue_max: float = 85.0
    min_reference_chroma: float = 4.0  # below: a grey photo, compare a*, b* directly
    chroma_floor: float = 1.5  # smallest robust σ of the reference chroma (CIELAB units)
    chroma_k: float = 2.5  # noise allowance, in robust σ of the reference
    chroma_low: float = 0.45  # chroma may drop to this share of the reference (− 1 σ) …
    chroma_min_share: float = 0.25  # … but never below this share
    chroma_high: float = 2.0  # … or rise to this multiple (+ k σ)
    hue_base: float = 15.0  # degrees of hue change always allowed
    lip_hue_shift: float = 25.0  # lips are redder: free hue shift towards red, degrees
    lip_chroma_high: float = 2.8


SKIN = SkinParams()


@dataclass(frozen=True)
class RegionParams:
    """How one visibility region is judged: the per-pixel skin test and the 0–100 curve."""

    score: Sigmoid  # skin fraction → 0–100
    lightness_low: float = 0.5  # L*/L*_ref band a skin pixel must fall in
    lightness_high: float = 1.5
    texture_factor: float = 4.0  # local gradient ≤ factor · reference gradient + offset
    texture_offset: float = 3.0
    lips: bool = False  # accept lip colour too


REGION_PARAMS: dict[str, RegionParams] = {
    "top": RegionParams(Sigmoid(0.45, 0.1)),
    "bottom": RegionParams(Sigmoid(0.4, 0.08)),
    "nose": RegionParams(Sigmoid(0.35, 0.08)),
    "mouth": RegionParams(Sigmoid(0.3, 0.08), lightness_low=0.35, lips=True),
    "eye": RegionParams(Sigmoid(0.4, 0.08), lightness_low=0.35, texture_factor=6.0),
    "side": RegionParams(Sigmoid(0.35, 0.08)),
}


# -- quality (data.quality) -----------------------------------------------------------------
MEASURES: dict[str, Sigmoid] = {
    # re-blur ratio (sharpness.py)
    "sharpness": Sigmoid(0.22, 0.05),
    # inter-eye distance, photo pixels (face_size.py)
    "face_size": Sigmoid(40.0, 8.0),
    # largest angle / its limit (head_pose.py): 50 at the limit
    "head_pose": Sigmoid(1.0, 0.15, invert=True),
    # face-skin mean luma 0–255, too dark / too bright (exposure.py)
    "exposure_dark": Sigmoid(60.0, 12.0),
    "exposure_bright": Sigmoid(215.0, 10.0, invert=True),
    # share of face-skin pixels clipped dark or bright
    "exposure_clipped": Sigmoid(0.25, 0.06, invert=True),
    # ICAO (icao/*.py) -------------------------------------------------------------------
    # share of face-skin pixels with luma ≤ DARK_LUMA / ≥ BRIGHT_LUMA; high = a lot
    "under_exposure": Sigmoid(0.3, 0.08, zero_at_zero=True),
    "over_exposure": Sigmoid(0.25, 0.07, zero_at_zero=True),
    # left/right face-half luminance histogram intersection, 0–1
    "illumination": Sigmoid(0.55, 0.1),
    # background: share of edge pixels, and robust colour spread (CIELAB units)
    "background_edges": Sigmoid(0.08, 0.03, invert=True),
    "background_spread": Sigmoid(12.0, 4.0, invert=True),
}
DARK_LUMA = 35.0  # luma at or below: shadows without detail
BRIGHT_LUMA = 240.0  # luma at or above: highlights without detail


@dataclass(frozen=True)
class PoseLimits:
    """``head_pose_check`` limits, degrees."""

    yaw: float = 20.0
    pitch: float = 20.0
    roll: float = 15.0


POSE_LIMITS = PoseLimits()


@dataclass(frozen=True)
class EyeOpenCalibration:
    """Eye aspect ratios that map to 0 and to 100."""

    closed: float
    wide: float


EYES_OPEN: dict[str, EyeOpenCalibration] = {
    "iris": EyeOpenCalibration(closed=0.05, wide=0.45),
    "mesh": EyeOpenCalibration(closed=0.16, wide=0.36),
}

# quality_metric = weighted geometric mean of the component scores (weights sum to 1).
QUALITY_WEIGHTS: dict[str, float] = {
    "sharpness": 0.35,
    "exposure": 0.25,
    "face_size": 0.2,
    "head_pose": 0.2,
}
QC_MIN_METRIC = 50.0  # qc_passed: quality_metric at least this …
QC_MIN_COMPONENT = 25.0  # … and no component below this

# -- ICAO rules ---------------------------------------------------------------------------
MIN_MESH_SCORE = 0.5  # mesh face flag below: landmarks unconfirmed, eyes/compliance not given
EYE_VISIBLE = 50  # eyeL/eyeR_visibility at least this for eyes_full_visibility
GLARE_LIGHTNESS = 95.0  # CIELAB L* of a specular highlight (detail lost)
GLARE_CHROMA = 15.0  # … and colourless
GLARE_SHARE = 0.02  # share of the eye's surroundings in highlight → glare (catchlights < 0.3 %)


@dataclass(frozen=True)
class CompliantRule:
    """``is_compliant`` (strictly greater than, as the reference words it)."""

    eye: int = 45  # eyeL/eyeR_visibility (lost start of the reference rule: our choice)
    nose: int = 45
    mouth: int = 45
    side: int = 20
    top: int = 20
    bottom: int = 20
    exposure: int = 50  # over_exposure and under_exposure must stay below this


COMPLIANT = CompliantRule()


@dataclass(frozen=True)
class GateLimits:
    """GenerateTemplateFromImage quality modes (ENROL strict, VERIFY relaxed)."""

    min_inter_eye: float
    min_quality: float
    check_pose: bool
    check_occlusion: bool


QUALITY_MODES: dict[str, GateLimits] = {
    "ENROL": GateLimits(
        min_inter_eye=60.0, min_quality=50.0, check_pose=True, check_occlusion=True
    ),
    "VERIFY": GateLimits(
        min_inter_eye=32.0, min_quality=30.0, check_pose=False, check_occlusion=False
    ),
}
