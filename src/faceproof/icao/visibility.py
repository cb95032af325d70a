"""Per-region visibility (ICAO ``*_visibility``): is this part of the face really shown?

A region is visible when its pixels look like *this person's* uncovered skin (colour, lightness
and texture against the reference drawn from the uncovered cheeks/forehead; see
:class:`~faceproof.quality.session.QualitySession`). Masks, dark glasses, hair, hands and
scarves fail that test, and the part of a region that lies outside the photo (a face cut by the
frame) counts as not visible. The share of passing pixels is mapped to 0–100 per region
(:data:`~faceproof.quality.config.REGION_PARAMS`), because each region has its own natural
share of non-skin detail (nostrils, lips, lashes, brows).

Sides are image sides (reference convention): ``eyeL``/``sideL`` are on the image left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from faceproof.quality.config import REGION_PARAMS, RegionParams
from faceproof.quality.session import BoolMap, QualitySession

Side = Literal["l", "r"]
MOUTH_MARGIN = 1.35  # the lips scaled about their centre: lips plus the skin around them


@dataclass(frozen=True)
class Visibility:
    """Raw share of skin-like pixels and its 0–100 score."""

    fraction: float
    score: int


class RegionVisibility:
    """Base: subclasses say which crop pixels make up the region."""

    params_key: str = ""

    def __init__(self, params: RegionParams | None = None) -> None:
        self.params = params or REGION_PARAMS[self.params_key]

    def mask(self, s: QualitySession) -> BoolMap:
        raise NotImplementedError

    def measure(self, s: QualitySession) -> Visibility:
        frac = s.skin_fraction(self.mask(s), self.params)
        return Visibility(frac, round(self.params.score(frac)))


class NoseVisibility(RegionVisibility):
    params_key = "nose"

    def mask(self, s: QualitySession) -> BoolMap:
        return s.region("nose")


class MouthVisibility(RegionVisibility):
    """Lips and the skin just around them; the opening (teeth, tongue) is left out."""

    params_key = "mouth"

    def mask(self, s: QualitySession) -> BoolMap:
        return s.scaled_region("lips", MOUTH_MARGIN) & ~s.region("mouth_opening")


class TopVisibility(RegionVisibility):
    """Forehead: silhouette top down to the brows."""

    params_key = "top"

    def mask(self, s: QualitySession) -> BoolMap:
        return s.region("top") & ~s.features


class BottomVisibility(RegionVisibility):
    """Chin: below the lower lip to the chin contour."""

    params_key = "bottom"

    def mask(self, s: QualitySession) -> BoolMap:
        return s.region("bottom") & ~s.features


class EyeVisibility(RegionVisibility):
    """The skin ring around one eye (lids, under-eye, below the brow), where lenses sit.

    The ring rather than the eye itself is judged: an eye is not skin-coloured, but a dark
    lens, a hand or a fringe over the eye covers the surrounding skin too.
    """

    params_key = "eye"

    def __init__(self, side: Side, params: RegionParams | None = None) -> None:
        super().__init__(params)
        self.side = side

    def mask(self, s: QualitySession) -> BoolMap:
        return s.region(f"periocular_{self.side}") & ~s.features


class SideVisibility(RegionVisibility):
    """Temple beside one eye, outer eye corner to the silhouette."""

    params_key = "side"

    def __init__(self, side: Side, params: RegionParams | None = None) -> None:
        super().__init__(params)
        self.side = side

    def mask(self, s: QualitySession) -> BoolMap:
        return s.region(f"side_{self.side}") & ~s.features


MEASURES: dict[str, RegionVisibility] = {
    "nose_visibility": NoseVisibility(),
    "mouth_visibility": MouthVisibility(),
    "top_visibility": TopVisibility(),
    "bottom_visibility": BottomVisibility(),
    "eyeL_visibility": EyeVisibility("l"),
    "eyeR_visibility": EyeVisibility("r"),
    "sideL_visibility": SideVisibility("l"),
    "sideR_visibility": SideVisibility("r"),
}


def measure_visibility(s: QualitySession) -> dict[str, Visibility]:
    """Every region, keyed by its ICAO field name."""
    return {name: m.measure(s) for name, m in MEASURES.items()}


__all__ = ["MEASURES", "RegionVisibility", "Visibility", "measure_visibility"]
