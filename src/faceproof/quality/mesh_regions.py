"""Face regions as index sets of MediaPipe's public 468-point face-mesh topology.

Defined once here so every measure agrees on what "the nose" or "the forehead" is. Sides are
*image* sides: ``_l`` is the part of the face on the image's left (for an un-mirrored photo,
the subject's right; MediaPipe's "right eye", outer corner 33), ``_r`` the image right. This is
the reference's ``eyeL``/``sideL`` convention ("the right eye of the user is the left eye in
the captured image").

A region is either an ordered polygon (``poly``: the indices walk its outline) or the convex
hull of its points (``hull``: order does not matter). Positions quoted below are those of an
average frontal face in inter-eye-distance units (x right, y down, origin between the eyes),
measured on LFW to choose the points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RegionKind = Literal["poly", "hull"]


@dataclass(frozen=True)
class Region:
    indices: tuple[int, ...]
    kind: RegionKind


# Silhouette, clockwise from the top of the forehead (10) through the image right.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Eyelid outlines: outer/inner corners, and the lids as 7 matched lower/upper pairs from the
# outer corner inwards (eye-aspect-ratio pairs).
EYE_CORNERS_L, EYE_CORNERS_R = (33, 133), (263, 362)
LOWER_LID_L = (7, 163, 144, 145, 153, 154, 155)
UPPER_LID_L = (246, 161, 160, 159, 158, 157, 173)
LOWER_LID_R = (249, 390, 373, 374, 380, 381, 382)
UPPER_LID_R = (466, 388, 387, 386, 385, 384, 398)
# The iris model's 71-point eye contour: 0 and 8 are the corners, 1..7 the lower lid and
# 9..15 the upper lid, both walked from corner 0 (pair k ↔ 8 + k).
IRIS_CORNERS = (0, 8)
IRIS_LOWER = (1, 2, 3, 4, 5, 6, 7)
IRIS_UPPER = (9, 10, 11, 12, 13, 14, 15)

LIPS_OUTER = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)  # fmt: skip
LIPS_INNER = (
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
)  # fmt: skip
# Midline from the chin up to the top of the forehead (splits the face into image halves).
MIDLINE_UP = (152, 175, 199, 200, 18, 17, 0, 164, 2, 1, 4, 5, 195, 197, 6, 168, 9, 151, 10)


def _eye_outline(
    corners: tuple[int, int], lower: tuple[int, ...], upper: tuple[int, ...]
) -> tuple[int, ...]:
    return (corners[0], *lower, corners[1], *reversed(upper))


_TOP = (
    54, 103, 67, 109, 10, 338, 297, 332, 284, 300, 293, 334, 296, 336, 9, 107, 66, 105, 63, 70,
)  # fmt: skip
# The silhouette from the forehead top down one side to the chin (then the midline back up).
_HALF_L = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148)
_HALF_R = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
)  # fmt: skip

REGIONS: dict[str, Region] = {
    # Measured regions (ICAO visibility) -------------------------------------------------
    # Forehead: the top arc of the silhouette down to the upper edge of both brows (y ≈ -0.83
    # … -0.23), brows themselves excluded.
    "top": Region(_TOP, "poly"),
    # Below the lower lip to the chin contour (y ≈ 1.1 … 1.8, |x| ≲ 0.6).
    "bottom": Region(
        (146, 91, 181, 84, 17, 314, 405, 321, 375, 379, 378, 400, 377, 152, 148, 176, 149, 150),
        "poly",
    ),
    # Lower nose: the bridge below the glasses line (195, y ≈ 0.25) to wings and base.
    "nose": Region((195, 5, 129, 64, 98, 97, 2, 326, 327, 294, 358), "hull"),
    "lips": Region(LIPS_OUTER, "poly"),
    "mouth_opening": Region(LIPS_INNER, "poly"),
    "eye_l": Region(_eye_outline(EYE_CORNERS_L, LOWER_LID_L, UPPER_LID_L), "poly"),
    "eye_r": Region(_eye_outline(EYE_CORNERS_R, LOWER_LID_R, UPPER_LID_R), "poly"),
    # Eye plus the skin around it up to the brow and down to the cheek bone: where dark
    # glasses sit (second ring of MediaPipe's eye annotations, x ≈ 0.19 … 0.83).
    "periocular_l": Region(
        (113, 225, 224, 223, 222, 221, 189, 226, 31, 228, 229, 230, 231, 232, 233, 244), "hull"
    ),
    "periocular_r": Region(
        (342, 445, 444, 443, 442, 441, 413, 446, 261, 448, 449, 450, 451, 452, 453, 464), "hull"
    ),
    # Lateral to the outer eye corner towards the silhouette (x ≈ 0.8 … 1.05), brow to
    # cheek bone: the temple. The outermost silhouette points are left out: the mesh edge
    # often lies a little past the real face edge, on hair or background.
    "side_l": Region((70, 71, 156, 124, 35, 143, 111, 116, 226, 113, 225, 46), "hull"),
    "side_r": Region((300, 301, 383, 353, 265, 372, 340, 345, 446, 342, 445, 276), "hull"),
    # Helpers ---------------------------------------------------------------------------
    "face": Region(FACE_OVAL, "poly"),
    "brow_l": Region((70, 63, 105, 66, 107, 55, 65, 52, 53, 46), "hull"),
    "brow_r": Region((300, 293, 334, 296, 336, 285, 295, 282, 283, 276), "hull"),
    "nostrils": Region((64, 98, 97, 2, 326, 327, 294, 19), "hull"),
    "half_l": Region((*_HALF_L, *MIDLINE_UP[:-1]), "poly"),
    "half_r": Region((*_HALF_R, *MIDLINE_UP[:-1]), "poly"),
    # Skin-colour reference candidates: upper cheeks (under the eyes, y ≈ 0.25 … 0.63), the
    # centre of the forehead, the chin and the nose bridge.
    "cheek_l": Region((117, 118, 119, 101, 36, 205, 187, 50), "hull"),
    "cheek_r": Region((346, 347, 348, 330, 266, 425, 411, 280), "hull"),
    "forehead_patch": Region((69, 108, 151, 337, 299, 9), "hull"),
    "chin_patch": Region((201, 421, 428, 396, 175, 171, 208), "hull"),
    "bridge_patch": Region((122, 351, 196, 419, 3, 248, 51, 281), "hull"),
}

SKIN_REFERENCE_PATCHES = ("cheek_l", "cheek_r", "forehead_patch", "chin_patch", "bridge_patch")
