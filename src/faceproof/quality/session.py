"""Shared, computed-once data for the quality and ICAO measures of one face.

OFIQ's design: the expensive common work (a face-normalised crop, colour conversions, region
masks from the landmarks, the person's own skin colour) is done once per face and every
measure reads it. Each property below is computed on first use and cached, so a caller that
only needs ``eyes_open_metric`` pays for no image processing at all.

The crop: the face is rotated so the eye line is horizontal and scaled so the mesh's extent
fills ``FILL`` of a ``crop_size``² square. Measures therefore see every face at the same scale
(a big face is downsampled with area averaging first, a small one upsampled — which is why
detail measures also lose score on small faces). Pixels that came from outside the photo are
marked in :attr:`QualitySession.valid`: a face cut by the frame keeps its full mesh (the mesh
model extrapolates) but the cut part has no valid pixels, so its regions score as invisible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.pipeline.record import F32, U8, FaceRecord, PersonMask, Pose
from faceproof.quality import mesh_regions as mr
from faceproof.quality.config import SKIN, RegionParams, SkinParams
from faceproof.quality.order_stats import median

F64 = NDArray[np.float64]
BoolMap = NDArray[np.bool_]
EyeLids = tuple[F64, F64, F64]  # corners (2, 2), lower lid (7, 2), upper lid (7, 2)

CROP_SIZE = 224
FILL = 0.8  # share of the crop side covered by the mesh's larger extent


@dataclass(frozen=True)
class SkinReference:
    """The person's own skin in this photo: Lab chroma distribution, lightness, texture."""

    mean_ab: F64  # (2,) median a*, b*
    spread: F64  # (2,) robust σ of chroma: radial, tangential (a*, b* on grey photos)
    lightness: float  # median L* (0–100)
    gradient: float  # median local gradient of L* (texture)
    pixels: int  # how many crop pixels the reference was drawn from
    patches: tuple[str, ...]  # the reference patches that agreed

    @property
    def chroma(self) -> float:
        return float(np.hypot(*self.mean_ab))


def _as_rgb(image: U8) -> U8:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


class QualitySession:
    """One face in one image; measures read its cached properties.

    ``person_mask`` is the segmenter's person probability, (H, W) like ``rgb`` (an array, or
    a :class:`~faceproof.pipeline.record.PersonMask`, resized only as far as a measure needs);
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
        from faceproof.pipeline.pose import estimate_pose

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
        e = self.eye_centres
        angle = math.atan2(e[1, 1] - e[0, 1], e[1, 0] - e[0, 0])
        c, s = math.cos(-angle), math.sin(-angle)
        rot = np.array([[c, -s], [s, c]])
        r = self.mesh @ rot.T
        lo, hi = r.min(axis=0), r.max(axis=0)
        extent = max(float(np.max(hi - lo)), 1.0)
        scale = FILL * self.crop_size / extent
        a = scale * rot
        centre = (lo + hi) / 2  # rotated frame
        t = np.full(2, self.crop_size / 2) - scale * centre
        return np.hstack([a, t[:, None]]), scale

    @cached_property
    def crop(self) -> U8:
        """The face, upright and scale-normalised, (S, S, 3) RGB; outside the photo is 0."""
        m, scale = self._transform
        n = self.crop_size
        src: NDArray[np.uint8] = self.rgb
        if scale < 0.5:
            # Area-average first so downsampling a big face does not alias (warpAffine is
            # bilinear); only the part of the photo under the crop is resized.
            inv = cv2.invertAffineTransform(m)
            corners = np.array([[0, 0, 1], [n, 0, 1], [0, n, 1], [n, n, 1]], dtype=np.float64)
            pts = corners @ inv.T
            w, h = self.image_size
            lo, hi = np.floor(pts.min(axis=0)) - 2, np.ceil(pts.max(axis=0)) + 2
            x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
            x1, y1 = min(w, int(hi[0])), min(h, int(hi[1]))
            if x1 > x0 and y1 > y0:
                f = min(1.0, 2.0 * scale)
                sub = src[y0:y1, x0:x1]
                sw, sh = max(1, round(sub.shape[1] * f)), max(1, round(sub.shape[0] * f))
                src = np.asarray(cv2.resize(sub, (sw, sh), interpolation=cv2.INTER_AREA))
                fx, fy = sub.shape[1] / sw, sub.shape[0] / sh
                a = m[:, :2] @ np.diag([fx, fy])
                m = np.hstack([a, (m[:, :2] @ np.array([x0, y0]) + m[:, 2])[:, None]])
        out = cv2.warpAffine(
            src, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        return np.asarray(out, dtype=np.uint8)

    @cached_property
    def valid(self) -> BoolMap:
        """Crop pixels that come from inside the photo."""
        n = self.crop_size
        inv = cv2.invertAffineTransform(self._transform[0])
        w, h = self.image_size
        # The map is affine, so its extremes over the pixel-centre grid are at the corner
        # pixels: when those are inside the photo by a margin far above the rounding error,
        # every pixel is (the usual case, a face with room around it).
        c = np.array([0.5, n - 0.5])
        cx = inv[0, 0] * c[None, :] + inv[0, 1] * c[:, None] + inv[0, 2]
        cy = inv[1, 0] * c[None, :] + inv[1, 1] * c[:, None] + inv[1, 2]
        eps = 1e-6 * (1.0 + w + h)
        if cx.min() >= eps and cx.max() < w - eps and cy.min() >= eps and cy.max() < h - eps:
            return np.ones((n, n), dtype=bool)
        xs = np.arange(n, dtype=np.float64)[None, :] + 0.5  # pixel centres, broadcast
        ys = np.arange(n, dtype=np.float64)[:, None] + 0.5
        x = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
        y = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
        return np.asarray((x >= 0) & (x < w) & (y >= 0) & (y < h))

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
        """Skin colour from the reference patches that agree with the most skin-like one.

        Cheeks, forehead, chin and nose bridge are candidates because any of them can be
        covered (a mask hides cheeks and chin, a fringe the forehead, dark glasses the
        bridge). Each patch gets a prior from generic skin chroma (hue and saturation in
        CIELAB); the patch whose colour is shared by the most prior-weighted area wins, and
        the reference pools every patch within ``agree`` of it. A mask's several covered
        patches agree with each other, but their colour has no skin prior, so they lose to
        the uncovered ones. On a greyscale photo no patch has a prior and plain agreement
        decides.
        """
        p = self.skin_params
        lab = self.lab.reshape(-1, 3)  # pixels by flat index
        plain = self.plain_valid
        names, stats, areas, priors, masks = [], [], [], [], []
        for name in mr.SKIN_REFERENCE_PATCHES:
            mask = self.region(name) & plain
            idx = np.flatnonzero(mask)
            n = idx.size
            if n < p.min_patch_pixels:
                continue
            med = _column_medians(np.take(lab, idx, axis=0))
            names.append(name)
            stats.append(med)
            areas.append(n)
            priors.append(skin_prior(float(med[1]), float(med[2]), p))
            masks.append(mask)
        if not names:
            pool = self.region("face") & self.valid
            if not pool.any():
                pool = self.valid
            return self._reference_from(np.flatnonzero(pool), ())
        st = np.array(stats, dtype=np.float64)
        w = np.array(areas, dtype=np.float64) * (np.array(priors) + 0.02)
        d = _patch_distance(st[:, None, :], st[None, :, :])
        agree = d < p.agree
        best = int(np.argmax((agree * w[None, :]).sum(axis=1)))
        chosen = [i for i in range(len(names)) if agree[best, i]]
        pool = np.zeros_like(masks[0])
        for i in chosen:
            pool |= masks[i]
        # Drop the pool's own outliers (a stray lock of hair, a specular spot) before fitting.
        # Only pool pixels can stay in it, so the tests run on those alone.
        idx = np.flatnonzero(pool)
        lum = np.take(lab, idx, axis=0)[:, 0]
        g = np.take(self.gradient.reshape(-1), idx)
        lo, hi = np.percentile(lum, [5, 95])
        keep = (lum >= lo) & (lum <= hi) & (g <= np.percentile(g, 90))
        return self._reference_from(idx[keep], tuple(names[i] for i in chosen))

    def _reference_from(self, pool: NDArray[np.intp], patches: tuple[str, ...]) -> SkinReference:
        """The reference from the crop pixels at flat indices ``pool`` (ascending)."""
        lab = self.lab.reshape(-1, 3)
        if pool.size < 3:
            pool = np.arange(lab.shape[0])
        px = np.take(lab, pool, axis=0)
        ab = px[:, 1:].astype(np.float64)
        centre = _column_medians(ab)
        c = float(np.hypot(*centre))
        if c >= self.skin_params.min_reference_chroma:
            u = centre / c
            axes = np.stack([ab @ u, ab @ np.array([-u[1], u[0]])], axis=1)
        else:
            axes = ab
        mad = _column_medians(np.abs(axes - _column_medians(axes)))
        spread = np.maximum(1.4826 * mad, self.skin_params.chroma_floor)
        return SkinReference(
            mean_ab=centre,
            spread=spread.astype(np.float64),
            lightness=max(float(median(px[:, 0])), 1.0),
            gradient=float(median(np.take(self.gradient.reshape(-1), pool))),
            pixels=int(pool.size),
            patches=patches,
        )

    def skin_colour(self, lips: bool = False) -> BoolMap:
        """Pixels whose CIELAB chroma is plausible for this person's skin (valid ones only).

        Polar test around the reference colour. Shading and highlights scale skin chroma but
        keep its hue, so the chroma may range over a band of the reference's (widened by the
        reference's own radial spread), while the hue must stay within ``hue_base`` plus
        what chroma noise explains at this pixel's chroma (``atan(k·σ_t / C)``: the hue of a
        weakly coloured pixel in a noisy webcam frame is uncertain, that of a saturated one is
        not). A white, grey, blue or black cover fails one of the two; noise alone does not.
        With ``lips`` redder and more saturated pixels pass too (lips are; a mask is not).
        On a grey photo the plain a*, b* distance in spread units decides.
        """
        key = "_colour_lips" if lips else "_colour"
        if key in self._regions:
            return self._regions[key]
        p = self.skin_params
        ref = self.skin_reference
        a, b = self.lab[:, :, 1], self.lab[:, :, 2]
        c = ref.chroma
        ra, rb = float(ref.mean_ab[0]), float(ref.mean_ab[1])
        if c >= p.min_reference_chroma:
            sr = float(ref.spread[0])
            chroma = self.chroma
            hi = (p.lip_chroma_high if lips else p.chroma_high) * c + p.chroma_k * sr
            lo = max(p.chroma_low * c - sr, p.chroma_min_share * c)
            dhue, tol = self._hue_terms
            red = p.lip_hue_shift if lips else 0.0
            colour = (chroma >= lo) & (chroma <= hi) & (dhue >= -tol - red) & (dhue <= tol)
        else:
            sa, sb = float(ref.spread[0]), float(ref.spread[1])
            colour = (np.abs(a - ra) <= p.chroma_k * sa) & (np.abs(b - rb) <= p.chroma_k * sb)
        self._regions[key] = np.asarray(colour & self.valid)
        return self._regions[key]

    @cached_property
    def _hue_terms(self) -> tuple[F32, F32]:
        """Per pixel: hue change from the reference skin (degrees, > 0: yellower) and the
        hue tolerance at the pixel's chroma; shared by both :meth:`skin_colour` variants."""
        p = self.skin_params
        ref = self.skin_reference
        a, b = self.lab[:, :, 1], self.lab[:, :, 2]
        ra, rb = float(ref.mean_ab[0]), float(ref.mean_ab[1])
        st = float(ref.spread[1])
        dhue = np.degrees(np.arctan2(b * ra - a * rb, a * ra + b * rb))
        tol = p.hue_base + np.degrees(np.arctan2(p.chroma_k * st, self.chroma))
        return np.asarray(dhue), np.asarray(tol)

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


def skin_prior(a: float, b: float, p: SkinParams) -> float:
    """0–1: how typical a CIELAB chroma (a*, b*) is of human skin under everyday light.

    Skin of every tone sits in a narrow hue band of warm colours (hue angle ≈ 20–80°) with a
    moderate chroma; blue/green/black/white masks, dark lenses and grey hair fall outside.
    """
    chroma = math.hypot(a, b)
    hue = math.degrees(math.atan2(b, a))
    c = _ramp(chroma, p.prior_chroma_min, 3.0) * (1.0 - _ramp(chroma, p.prior_chroma_max, 5.0))
    h = _ramp(hue, p.prior_hue_min, 8.0) * (1.0 - _ramp(hue, p.prior_hue_max, 8.0))
    return c * h


def _ramp(x: float, at: float, width: float) -> float:
    return float(1.0 / (1.0 + math.exp(-(x - at) / width)))


def _column_medians(x: NDArray[Any]) -> NDArray[Any]:
    """``np.median(x, axis=0)`` for an (N, k) array."""
    return np.asarray(median(x.T, axis=-1))


def _patch_distance(p: F64, q: F64) -> F64:
    """Colour difference of patch medians: chroma ΔE plus a lightness-ratio term."""
    dab = np.hypot(p[..., 1] - q[..., 1], p[..., 2] - q[..., 2])
    dl = np.abs(np.log(np.maximum(p[..., 0], 1.0) / np.maximum(q[..., 0], 1.0)))
    return np.asarray(dab + 20.0 * dl)
