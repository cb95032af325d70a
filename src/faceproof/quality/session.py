"""Shared, computed-once data for the quality and ICAO measures of one face.

OFIQ's design: the expensive common work (a face-normalised crop, colour conversions, region
masks from the landmarks, the person's own skin colour) is done once per face and every
measure reads it. Each property below is computed on first use and cached, so a caller that
only needs ``eyes_open_metric`` pays for no image processing at all.

The crop (:mod:`faceproof.quality.crop`): the face is rotated so the eye line is horizontal
and scaled so the mesh's extent fills ``FILL`` of a ``crop_size``² square. Measures therefore
see every face at the same scale (a big face is downsampled with area averaging first, a small
one upsampled — which is why detail measures also lose score on small faces). Pixels that came
from outside the photo are marked in :attr:`QualitySession.valid`: a face cut by the frame
keeps its full mesh (the mesh model extrapolates) but the cut part has no valid pixels, so its
regions score as invisible. The person's own skin colour: :mod:`faceproof.quality.skin`.
"""

from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np

from faceproof.face.pose import estimate_pose
from faceproof.face.record import F32, U8, FaceRecord, PersonMask, Pose
from faceproof.quality import mesh_regions as mr
from faceproof.quality.config import SKIN, RegionParams, SkinParams
from faceproof.quality.crop import CROP_SIZE, F64, BoolMap, crop_transform, inside_photo, warp_crop
from faceproof.quality.skin import (
    SkinReference,
    colour_match,
    find_reference,
    hue_terms,
    reference_from,
)

EyeLids = tuple[F64, F64, F64]  # corners (2, 2), lower lid (7, 2), upper lid (7, 2)

__all__ = ["CROP_SIZE", "BoolMap", "EyeLids", "QualitySession", "SkinReference"]


def _as_rgb(image: U8) -> U8:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


class QualitySession:
    """One face in one image; measures read its cached properties.

    ``person_mask`` is the segmenter's person probability, (H, W) like ``rgb`` (an array, or
    a :class:`~faceproof.face.record.PersonMask`, resized only as far as a measure needs);
    background measures need it and fall back to a geometric estimate without it.
    """

    def __init__(
        self,
        rgb: U8,
        record: FaceRecord,
        person_mask: F32 | PersonMask | None = None,
        *,
        crop_size: int = CROP_SIZE,
        skin: SkinParams = SKIN,
    ) -> None:
        if record.landmarks is None:
            raise ValueError("quality needs a face record with landmarks")
        if person_mask is not None and person_mask.shape[:2] != rgb.shape[:2]:
            raise ValueError("person mask and image differ in size")
        self.rgb = _as_rgb(rgb)
        self.record = record
        self.person_mask = person_mask
        self.crop_size = crop_size
        self.skin_params = skin
        self._regions: dict[str, BoolMap] = {}
        self._passes: dict[tuple[object, ...], BoolMap] = {}

    # -- geometry ----------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of the photo."""
        return self.rgb.shape[1], self.rgb.shape[0]

    @cached_property
    def mesh(self) -> F64:
        """(468, 2) mesh points in image pixels."""
        assert self.record.landmarks is not None
        return np.asarray(self.record.landmarks.mesh[:, :2], dtype=np.float64)

    @cached_property
    def eye_centres(self) -> F64:
        """(2, 2): image-left and image-right eye centres (iris centres when available)."""
        if self.record.five_points is not None:
            return np.asarray(self.record.five_points[:2], dtype=np.float64)
        lm = self.record.landmarks
        if lm is not None and lm.iris is not None:
            return np.asarray(lm.iris[:, 0, :2], dtype=np.float64)
        m = self.mesh
        return np.stack([m[list(mr.REGIONS[k].indices)].mean(axis=0) for k in ("eye_l", "eye_r")])

    @cached_property
    def inter_eye_distance(self) -> float:
        if self.record.inter_eye_distance is not None:
            return float(self.record.inter_eye_distance)
        e = self.eye_centres
        return float(np.hypot(*(e[1] - e[0])))

    @cached_property
    def pose(self) -> Pose:
        if self.record.pose is not None:
            return self.record.pose

        h, w = self.rgb.shape[:2]
        return estimate_pose(self.mesh.astype(np.float32), (w, h))  # (width, height)

    @cached_property
    def eyelids(self) -> tuple[EyeLids, EyeLids]:
        """Per eye (image-left, image-right): (corners (2, 2), lower (7, 2), upper (7, 2)).

        The iris model's contour is preferred (it sees the eye at 64² instead of a few mesh
        pixels); the mesh lids are the fallback.
        """
        lm = self.record.landmarks
        assert lm is not None
        out: list[EyeLids] = []
        for i in range(2):
            if lm.eye_contour is not None:
                c = np.asarray(lm.eye_contour[i, :, :2], dtype=np.float64)
                out.append(
                    (c[list(mr.IRIS_CORNERS)], c[list(mr.IRIS_LOWER)], c[list(mr.IRIS_UPPER)])
                )
            else:
                corners = (mr.EYE_CORNERS_L, mr.EYE_CORNERS_R)[i]
                lower = (mr.LOWER_LID_L, mr.LOWER_LID_R)[i]
                upper = (mr.UPPER_LID_L, mr.UPPER_LID_R)[i]
                m = self.mesh
                out.append((m[list(corners)], m[list(lower)], m[list(upper)]))
        return out[0], out[1]

    # -- the face-normalised crop -------------------------------------------------------
    @cached_property
    def _transform(self) -> tuple[F64, float]:
        """2×3 affine map image → crop, and its scale (crop pixels per image pixel)."""
        return crop_transform(self.eye_centres, self.mesh, self.crop_size)

    @cached_property
    def crop(self) -> U8:
        """The face, upright and scale-normalised, (S, S, 3) RGB; outside the photo is 0."""
        m, scale = self._transform
        return warp_crop(self.rgb, m, scale, self.crop_size)

    @cached_property
    def valid(self) -> BoolMap:
        """Crop pixels that come from inside the photo."""
        return inside_photo(self._transform[0], self.image_size, self.crop_size)

    @cached_property
    def points(self) -> F64:
        """(468, 2) mesh in crop pixels."""
        m = self._transform[0]
        return np.asarray(self.mesh @ m[:, :2].T + m[:, 2])

    @cached_property
    def lab(self) -> F32:
        """CIE L*a*b* of the crop (L 0–100, a/b signed)."""
        return np.asarray(
            cv2.cvtColor(self.crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab), dtype=np.float32
        )

    @cached_property
    def chroma(self) -> F32:
        """CIELAB chroma √(a*² + b*²) of the crop."""
        lab = self.lab
        return np.asarray(np.hypot(lab[:, :, 1], lab[:, :, 2]), dtype=np.float32)

    @cached_property
    def luma(self) -> F32:
        """BT.601 luma of the crop, 0–255 (the unit of OFIQ's exposure measures)."""
        rgb = self.crop.astype(np.float32)
        return np.asarray(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))

    @cached_property
    def gradient(self) -> F32:
        """Local texture: |∇L*| averaged over a 5×5 window."""
        lum = self.lab[:, :, 0]
        # scale = 1/8 is a power of two: the same values as dividing the result by 8.
        gx = np.asarray(cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3, scale=0.125), dtype=np.float32)
        gy = np.asarray(cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3, scale=0.125), dtype=np.float32)
        return np.asarray(cv2.blur(np.hypot(gx, gy), (5, 5)), dtype=np.float32)

    # -- regions -----------------------------------------------------------------------
    def region(self, name: str) -> BoolMap:
        """Crop mask of a named mesh region (:data:`faceproof.quality.mesh_regions.REGIONS`)."""
        if name not in self._regions:
            spec = mr.REGIONS[name]
            self._regions[name] = self._fill(self.points[list(spec.indices)], spec.kind == "hull")
        return self._regions[name]

    def _fill(self, pts: F64, hull: bool) -> BoolMap:
        canvas = np.zeros((self.crop_size, self.crop_size), dtype=np.uint8)
        fixed = np.round(pts * 4).astype(np.int32)  # 2 fractional bits
        if hull:
            cv2.fillConvexPoly(canvas, cv2.convexHull(fixed), 1, cv2.LINE_8, 2)
        else:
            cv2.fillPoly(canvas, [fixed], 1, cv2.LINE_8, 2)
        return canvas.view(bool)  # 0/1 bytes: a valid bool array as is

    def scaled_region(self, name: str, factor: float) -> BoolMap:
        """A region's points scaled about their centroid (e.g. lips plus a margin)."""
        spec = mr.REGIONS[name]
        pts = self.points[list(spec.indices)]
        centre = pts.mean(axis=0)
        return self._fill(centre + (pts - centre) * factor, spec.kind == "hull")

    @cached_property
    def features(self) -> BoolMap:
        """Eyes, brows, lips and nostrils: face parts that are not plain skin."""
        out = np.zeros((self.crop_size, self.crop_size), dtype=bool)
        for name in ("eye_l", "eye_r", "brow_l", "brow_r", "nostrils"):
            out |= self.region(name)
        out |= self.scaled_region("lips", 1.1)
        k = max(3, round(self.crop_size / 56)) | 1
        return cv2.dilate(out.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)

    @cached_property
    def plain_valid(self) -> BoolMap:
        """Crop pixels inside the photo that are not a face feature."""
        return np.asarray(self.valid & ~self.features)

    @cached_property
    def face_skin(self) -> BoolMap:
        """Face oval minus the features, inside the photo: where skin is expected."""
        return self.region("face") & self.plain_valid

    @cached_property
    def face_luma(self) -> F32:
        """Luma (0–255) of the face-skin pixels, 1-D: the exposure measures' population."""
        return np.asarray(self.luma[self.face_skin], dtype=np.float32)

    # -- the person's skin ---------------------------------------------------------------
    @cached_property
    def skin_reference(self) -> SkinReference:
        """Skin colour from the reference patches (:func:`faceproof.quality.skin.find_reference`).

        Cheeks, forehead, chin and nose bridge are candidates because any of them can be
        covered (a mask hides cheeks and chin, a fringe the forehead, dark glasses the
        bridge). With none usable the face oval (or the whole crop) is the pool.
        """
        plain = self.plain_valid
        patches = [(name, self.region(name) & plain) for name in mr.SKIN_REFERENCE_PATCHES]
        ref = find_reference(self.lab, self.gradient, patches, self.skin_params)
        if ref is not None:
            return ref
        pool = self.region("face") & self.valid
        if not pool.any():
            pool = self.valid
        return reference_from(self.lab, self.gradient, np.flatnonzero(pool), (), self.skin_params)

    def skin_colour(self, lips: bool = False) -> BoolMap:
        """Valid pixels whose colour is plausible for this person's skin
        (:func:`faceproof.quality.skin.colour_match`); ``lips`` admits lip colours too."""
        key = "_colour_lips" if lips else "_colour"
        if key not in self._regions:
            colour = colour_match(
                self.lab, self.chroma, self._hue_terms, self.skin_reference, self.skin_params, lips
            )
            self._regions[key] = np.asarray(colour & self.valid)
        return self._regions[key]

    @cached_property
    def _hue_terms(self) -> tuple[F32, F32]:
        """Hue change and tolerance per pixel, shared by both :meth:`skin_colour` variants."""
        return hue_terms(self.lab, self.chroma, self.skin_reference, self.skin_params)

    @cached_property
    def lightness_ratio(self) -> F32:
        """L* relative to the reference skin's median L*."""
        return np.asarray(self.lab[:, :, 0] / self.skin_reference.lightness, dtype=np.float32)

    def skin_fraction(self, mask: BoolMap, rp: RegionParams) -> float:
        """Share of ``mask`` (photo-outside pixels included, as failures) that looks like skin.

        A pixel passes when its colour matches (:meth:`skin_colour`), its lightness is within
        ``rp``'s band of the reference (shadowed eye sockets are legitimately darker than
        cheeks; dark lenses and hair are much darker) and it is not much more textured than
        the reference skin (hair, fabric weave, printed patterns).
        """
        n = int(np.count_nonzero(mask))
        if n == 0:
            return 0.0
        return float(np.count_nonzero(mask & self._skin_pass(rp))) / n

    def _skin_pass(self, rp: RegionParams) -> BoolMap:
        """Crop pixels passing :meth:`skin_fraction`'s test for ``rp`` (shared by the regions
        judged with the same parameters)."""
        key = (rp.lips, rp.lightness_low, rp.lightness_high, rp.texture_factor, rp.texture_offset)
        if key not in self._passes:
            ref = self.skin_reference
            ratio = self.lightness_ratio
            self._passes[key] = np.asarray(
                self.skin_colour(rp.lips)
                & (ratio >= rp.lightness_low)
                & (ratio <= rp.lightness_high)
                & (self.gradient <= rp.texture_factor * ref.gradient + rp.texture_offset)
            )
        return self._passes[key]
