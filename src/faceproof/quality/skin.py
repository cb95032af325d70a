"""The person's own skin in one photo: a reference colour, and which pixels match it.

Coverings (masks, dark glasses, a fringe) are found by comparing face regions with the
person's *own* skin rather than with a generic skin model, so the reference must come from
patches that are actually skin: :func:`find_reference` pools the candidate patches that agree
with the most skin-like one, and :func:`colour_match` tests pixels against that reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import F32
from faceproof.quality.config import SkinParams
from faceproof.quality.crop import F64, BoolMap
from faceproof.quality.order_stats import median


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


def find_reference(
    lab: F32, gradient: F32, patches: Sequence[tuple[str, BoolMap]], p: SkinParams
) -> SkinReference | None:
    """Skin colour from the reference patches that agree with the most skin-like one.

    ``patches`` are the candidate regions (name, crop mask of their plain valid pixels).
    Each patch gets a prior from generic skin chroma (hue and saturation in CIELAB); the
    patch whose colour is shared by the most prior-weighted area wins, and the reference
    pools every patch within ``agree`` of it. A mask's several covered patches agree with
    each other, but their colour has no skin prior, so they lose to the uncovered ones. On a
    greyscale photo no patch has a prior and plain agreement decides. None when no patch
    has ``min_patch_pixels``.
    """
    flat = lab.reshape(-1, 3)  # pixels by flat index
    names, stats, areas, priors, masks = [], [], [], [], []
    for name, mask in patches:
        idx = np.flatnonzero(mask)
        n = idx.size
        if n < p.min_patch_pixels:
            continue
        med = _column_medians(np.take(flat, idx, axis=0))
        names.append(name)
        stats.append(med)
        areas.append(n)
        priors.append(skin_prior(float(med[1]), float(med[2]), p))
        masks.append(mask)
    if not names:
        return None
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
    lum = np.take(flat, idx, axis=0)[:, 0]
    g = np.take(gradient.reshape(-1), idx)
    lo, hi = np.percentile(lum, [5, 95])
    keep = (lum >= lo) & (lum <= hi) & (g <= np.percentile(g, 90))
    return reference_from(lab, gradient, idx[keep], tuple(names[i] for i in chosen), p)


def reference_from(
    lab: F32, gradient: F32, pool: NDArray[np.intp], patches: tuple[str, ...], p: SkinParams
) -> SkinReference:
    """The reference from the crop pixels at flat indices ``pool`` (ascending)."""
    flat = lab.reshape(-1, 3)
    if pool.size < 3:
        pool = np.arange(flat.shape[0])
    px = np.take(flat, pool, axis=0)
    ab = px[:, 1:].astype(np.float64)
    centre = _column_medians(ab)
    c = float(np.hypot(*centre))
    if c >= p.min_reference_chroma:
        u = centre / c
        axes = np.stack([ab @ u, ab @ np.array([-u[1], u[0]])], axis=1)
    else:
        axes = ab
    mad = _column_medians(np.abs(axes - _column_medians(axes)))
    spread = np.maximum(1.4826 * mad, p.chroma_floor)
    return SkinReference(
        mean_ab=centre,
        spread=spread.astype(np.float64),
        lightness=max(float(median(px[:, 0])), 1.0),
        gradient=float(median(np.take(gradient.reshape(-1), pool))),
        pixels=int(pool.size),
        patches=patches,
    )


def hue_terms(lab: F32, chroma: F32, ref: SkinReference, p: SkinParams) -> tuple[F32, F32]:
    """Per pixel: hue change from the reference skin (degrees, > 0: yellower) and the
    hue tolerance at the pixel's chroma."""
    a, b = lab[:, :, 1], lab[:, :, 2]
    ra, rb = float(ref.mean_ab[0]), float(ref.mean_ab[1])
    st = float(ref.spread[1])
    dhue = np.degrees(np.arctan2(b * ra - a * rb, a * ra + b * rb))
    tol = p.hue_base + np.degrees(np.arctan2(p.chroma_k * st, chroma))
    return np.asarray(dhue), np.asarray(tol)


def colour_match(
    lab: F32,
    chroma: F32,
    hue: tuple[F32, F32],
    ref: SkinReference,
    p: SkinParams,
    lips: bool,
) -> BoolMap:
    """Pixels whose CIELAB chroma is plausible for this person's skin.

    Polar test around the reference colour. Shading and highlights scale skin chroma but
    keep its hue, so the chroma may range over a band of the reference's (widened by the
    reference's own radial spread), while the hue must stay within ``hue_base`` plus
    what chroma noise explains at this pixel's chroma (``atan(k·σ_t / C)``: the hue of a
    weakly coloured pixel in a noisy webcam frame is uncertain, that of a saturated one is
    not). A white, grey, blue or black cover fails one of the two; noise alone does not.
    With ``lips`` redder and more saturated pixels pass too (lips are; a mask is not).
    On a grey photo the plain a*, b* distance in spread units decides. ``hue`` is
    :func:`hue_terms` (computed once, shared by both variants).
    """
    a, b = lab[:, :, 1], lab[:, :, 2]
    c = ref.chroma
    ra, rb = float(ref.mean_ab[0]), float(ref.mean_ab[1])
    if c >= p.min_reference_chroma:
        sr = float(ref.spread[0])
        hi = (p.lip_chroma_high if lips else p.chroma_high) * c + p.chroma_k * sr
        lo = max(p.chroma_low * c - sr, p.chroma_min_share * c)
        dhue, tol = hue
        red = p.lip_hue_shift if lips else 0.0
        return np.asarray((chroma >= lo) & (chroma <= hi) & (dhue >= -tol - red) & (dhue <= tol))
    sa, sb = float(ref.spread[0]), float(ref.spread[1])
    return np.asarray((np.abs(a - ra) <= p.chroma_k * sa) & (np.abs(b - rb) <= p.chroma_k * sb))


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
