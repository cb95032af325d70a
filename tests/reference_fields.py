"""Field lists as the reference documents them, written out independently of our code."""

from __future__ import annotations

# icao_data, in the reference's order (templates, when present, follow bottom_visibility).
ICAO_KEYS = [
    "multiple_faces",
    "eyes_full_visibility",
    "background_continuity",
    "illumination_uniformity",
    "over_exposure",
    "under_exposure",
    "nose_visibility",
    "mouth_visibility",
    "top_visibility",
    "bottom_visibility",
    "eyeL_visibility",
    "eyeR_visibility",
    "sideL_visibility",
    "sideR_visibility",
    "is_compliant",
]
