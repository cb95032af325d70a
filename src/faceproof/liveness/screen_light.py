"""Screen-light challenge: does the face reflect the colour sequence the screen showed?

Physics (Face Flashing, Tang et al., NDSS 2018; AWS's "movement and light" challenge). At
selfie distance the screen is a large light source close to the face. Skin reflects it: in
linear light a skin pixel is ``ρ_c · (E_ambient,c + E_screen,c)`` (ρ the skin's reflectance
in camera channel c), so when the screen's channel c switches on, the face's channel c
rises by the *relative modulation depth* ``m_c = E_screen,c / E_ambient,c``; the background,
a metre or more away, gets a small fraction of that (inverse-square). A photo, a screen
replay or injected footage recorded before the server drew the sequence cannot follow it.

Measurement, per light frame k (one frame per colour, taken in the last ``1 − settle`` of
the colour's interval):

* ``f_k``: mean *linear* RGB (sRGB decoded) of the face's skin (the face-mesh oval shrunk
  10 %, without eyes, brows and lips; clipped and very dark pixels left out);
* relative to the previous step: ``Δ_k = log f_k − log f_{k−1}`` per channel;
* relative to the background: minus the per-channel log gain of the static background from
  frame k−1 to k (:func:`background_change`: cells outside the person, unclipped in both
  frames, that changed like most others). Auto-exposure and white balance scale every pixel
  of a frame alike, and the room's own light changes reach face and background alike: the
  difference cancels both;
* chroma only: the mean over channels is removed from each step (a luminance change —
  motion in directional light, a flicker — moves the channels together), and the steps are
  centred (a linear drift is removed). The screen's colours, linear RGB 0/1 per channel for
  our palette, get the same treatment: ``Δu_k``.

**Statistic.** Per channel, the least-squares gain of the face's change on the screen's
change, constrained non-negative (more screen light can only brighten skin):
``g_c = max(0, <Δ_c, Δu_c> / <Δu_c, Δu_c>)``, and ``S = sqrt(Σ_c g_c² |Δu_c|² / Σ_c |Δ_c|²)``:
the share of the face's colour changes (root of the explained variance, 0 … 1) that the drawn
sequence explains with physically possible gains.

**Null and threshold (permutation argument).** The server draws the sequence uniformly among
the valid ones (:func:`draw_sequence`), so given the multiset of colours and the durations,
every valid arrangement (consecutive colours different) is equally likely. A response that
was fixed before the draw (a photo, a replay, an earlier session's recording) is
independent of the draw, so the rank of the drawn arrangement's S among the S of all valid
arrangements is uniform, and ``P(p ≤ α) ≤ α`` for the permutation p-value
``p = #{π : S(π) ≥ S(drawn)} / #arrangements`` (ties count against the capture). We require
``p ≤ ALPHA`` (0.5 %): the false-pass probability of a non-following response is at most
0.5 % whatever it does, plus ``S ≥ MIN_STATISTIC`` (an effect size, so a fit that explains
little never passes however it ranks). The sequences drawn (7–8 colours: the six of the
palette plus one or two others) have ≥ 1800 valid arrangements.

**Contrast.** Sequence-free: ``max_c rms_k(Δ_kc)`` (chroma steps) — the relative modulation
depth of the face's colour (exactly m for a channel switched on or off at every step). Below
``MIN_CONTRAST`` the face's colour does not change enough to judge: bright ambient light
(the screen adds too little) *or* a medium that does not react at all. The two cannot be
told apart from the frames, so both get ``light_too_weak``: a retry with a message (move
out of direct sunlight/closer to the screen), never an acceptance.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import F32, U8

# Six saturated colours: every channel at 0 or full scale. Each channel's screen emission
# swings over its whole range (the largest reflected change a screen can make in that
# channel), and the three channels follow three different on/off patterns, so the test has
# three independent channels; a luminance flicker (ambient light, auto-exposure, a replay's
# own brightness changes) moves the three together and cannot fit them. White/black are left
# out: they modulate only luminance, which is what auto-exposure fights.
PALETTE: tuple[str, ...] = ("#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00")
MIN_COLOURS, MAX_COLOURS = 7, 8  # what we issue (≥ 1800 valid orders); protocol: 4..8
PROTOCOL_COLOURS = (4, 8)
MIN_MS, MAX_MS = 300, 700
SETTLE = 0.5  # skip the first half of each colour: display + camera latency
ALPHA = 0.005  # permutation p-value needed: false-pass probability of a non-following face
MIN_STATISTIC = 0.75  # and the sequence must explain this share of the colour changes
MIN_CONTRAST = 0.04  # chroma modulation depth below which the light is too weak to judge
MIN_SKIN_PIXELS = 400
MIN_BACKGROUND_FRACTION = 0.03

# Face-mesh vertices of the features that are not skin (they move and have their own colour).
_EYE_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
_EYE_L = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
_BROW_R = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107)
_BROW_L = (276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
_FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip


@dataclass(frozen=True)
class LightSequence:
    """The colours the screen shows, in order, with their durations (ms)."""

    colors: tuple[str, ...]
    ms: tuple[int, ...]
    settle: float = SETTLE

    def public(self) -> dict[str, Any]:
        return {
            "colors": [{"color": c, "ms": m} for c, m in zip(self.colors, self.ms, strict=True)],
            "settle": self.settle,
        }

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> LightSequence:
        colors = tuple(str(c["color"]) for c in data["colors"])
        ms = tuple(int(c["ms"]) for c in data["colors"])
        return cls(colors, ms, float(data["settle"]))

    def windows(self, light_start_t: int) -> list[tuple[float, float]]:
        """[lo, hi) on the frames' time axis where colour k's frame must be taken."""
        out, start = [], float(light_start_t)
        for m in self.ms:
            out.append((start + self.settle * m, start + m))
            start += m
        return out


def hex_to_linear(color: str) -> NDArray[np.float64]:
    """Linear RGB (0..1) of an ``#rrggbb`` colour."""
    v = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255.0
    return np.asarray(_srgb_to_linear(v), dtype=np.float64)


def _srgb_to_linear(v: NDArray[Any]) -> NDArray[np.float64]:
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


_LUT = _srgb_to_linear(np.arange(256) / 255.0)
_LUT32 = _LUT.astype(np.float32)  # for cv2.LUT (one table for the three channels)


def _valid(colors: Sequence[str]) -> bool:
    return all(a != b for a, b in itertools.pairwise(colors))


def _channels_vary(colors: Sequence[str]) -> bool:
    """Every channel is on at least twice and off at least twice (three usable channels)."""
    u = np.array([hex_to_linear(c) > 0.5 for c in colors])
    on = u.sum(axis=0)
    return bool(np.all((on >= 2) & (len(colors) - on >= 2)))


def arrangements(colors: Sequence[str]) -> list[tuple[str, ...]]:
    """Every distinct valid order of the same colours (consecutive colours differ)."""
    return list(_valid_orders(colors))


def _valid_orders(multiset: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Every distinct order of ``multiset`` with no colour next to itself, in sorted
    (lexicographic) order: ``sorted({p for p in permutations(multiset) if _valid(p)})``."""
    colours = sorted(set(multiset))
    codes = _valid_codes(tuple(multiset.count(c) for c in colours))
    names = np.array(colours, dtype=object)
    return tuple(map(tuple, names[codes].tolist()))


def _valid_codes(counts: tuple[int, ...]) -> NDArray[np.intp]:
    """:func:`_valid_orders` as rows of indices into the sorted distinct colours, colour
    ``i`` appearing ``counts[i]`` times in each row.

    Built a position at a time for all prefixes at once (NumPy): each valid prefix is
    extended by every colour that is left and differs from its last one, so no duplicate
    and no invalid prefix is ever made; the rows are then sorted. Filtering all 8!
    permutations cost about 0.35 s per new multiset, a recursion over the prefixes ~15 ms
    for eight colours (the first capture that drew the multiset paid it); this, about 1 ms.
    """
    rows = np.zeros((1, 0), dtype=np.intp)
    left = np.array([counts], dtype=np.intp)
    for _ in range(sum(counts)):
        grown_rows, grown_left = [], []
        for c in range(len(counts)):
            keep = left[:, c] > 0
            if rows.shape[1]:
                keep &= rows[:, -1] != c
            picked = left[keep]
            picked[:, c] -= 1
            grown_rows.append(np.hstack([rows[keep], np.full((len(picked), 1), c, np.intp)]))
            grown_left.append(picked)
        rows, left = np.concatenate(grown_rows), np.concatenate(grown_left)
    # Lexicographic: np.lexsort's primary key is its last.
    return np.ascontiguousarray(rows[np.lexsort(rows.T[::-1])])


@lru_cache(maxsize=64)
def _orders(multiset: tuple[str, ...]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """The valid orders of a sorted multiset of colours, as rows of indices into its sorted
    distinct colours (:func:`_valid_codes`, lexicographic), and their screens' steps
    (N, K−1, 3) as :func:`screen_steps` makes them, cached: the issued multisets are the six
    palette colours plus one or two others (21 of them), and every capture judges all
    orders."""
    colours = sorted(set(multiset))
    codes = _valid_codes(tuple(multiset.count(c) for c in colours))
    palette = np.array([hex_to_linear(c) for c in colours], dtype=np.float64)
    return codes, screen_steps(palette[codes])


def draw_sequence(rng: Any = None) -> LightSequence:
    """7–8 colours: the six palette colours plus one or two others (never adjacent to
    themselves, never the same one twice), each 300–700 ms. Uniform over valid orders given the
    multiset (the permutation argument needs exactly that)."""
    rng = rng or secrets.SystemRandom()
    n = rng.randint(MIN_COLOURS, MAX_COLOURS)
    while True:
        extra = rng.sample(PALETTE, n - len(PALETTE))
        multiset = list(PALETTE) + extra
        rng.shuffle(multiset)
        if _valid(multiset) and _channels_vary(multiset):
            break
    ms = tuple(rng.randint(MIN_MS, MAX_MS) for _ in multiset)
    return LightSequence(tuple(multiset), ms, SETTLE)


# -- measuring one frame ---------------------------------------------------------------------
def skin_mask(shape: tuple[int, int], mesh: F32) -> NDArray[np.bool_]:
    """Skin of the face from its mesh: the face oval shrunk 10 % towards its centre, without
    the eyes, brows and lips (dilated), which have their own colour and move."""
    (x0, y0), part = _skin_region(shape, mesh)
    mask = np.zeros(shape, bool)
    mask[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]] = part
    return mask


def _hull_in(canvas: NDArray[np.uint8], pts: NDArray[Any], origin: NDArray[np.int32]) -> None:
    """Fills the convex hull of the integer frame pixels ``pts`` into ``canvas``, whose
    top-left pixel is ``origin`` of the frame. The same pixels as on the whole frame when
    the hull lies inside the canvas or the canvas edge it crosses is the frame's (OpenCV's
    clipping of a polygon at a canvas edge moves pixels next to that edge)."""
    cv2.fillConvexPoly(canvas, cv2.convexHull(pts.astype(np.int32)) - origin, 255)


def _skin_region(shape: tuple[int, int], mesh: F32) -> tuple[tuple[int, int], NDArray[np.bool_]]:
    """:func:`skin_mask` on the part of the frame that can hold skin: ``((x0, y0), mask)``.

    Skin lies inside the shrunk oval's hull, so only its bounding box (a pixel of margin)
    is kept; the hulls are drawn on a canvas holding that box grown by the dilation's reach
    and every hull whole (clipped only by the frame), so the same pixels come out as from
    drawing everything on the whole frame (tests/test_screen_light.py checks it), at a
    fraction of the frame's area per light frame.
    """
    h, w = shape
    oval = mesh[list(_FACE_OVAL), :2].astype(np.float64)
    centre = oval.mean(axis=0)
    shrunk = np.round(centre + 0.9 * (oval - centre))
    iod = float(np.linalg.norm(mesh[33, :2] - mesh[263, :2]))
    k = max(3, int(iod * 0.12) | 1)
    x0, y0 = max(int(shrunk[:, 0].min()) - 1, 0), max(int(shrunk[:, 1].min()) - 1, 0)
    x1, y1 = min(int(shrunk[:, 0].max()) + 2, w), min(int(shrunk[:, 1].max()) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return (0, 0), np.zeros((0, 0), bool)
    parts = [np.round(mesh[list(part), :2]) for part in (_EYE_R + _BROW_R, _EYE_L + _BROW_L, _LIPS)]
    lo = np.min([pts.min(axis=0) for pts in (shrunk, *parts)], axis=0)
    hi = np.max([pts.max(axis=0) for pts in (shrunk, *parts)], axis=0)
    reach = k // 2
    ex0, ey0 = max(min(x0 - reach, int(lo[0]) - 1), 0), max(min(y0 - reach, int(lo[1]) - 1), 0)
    ex1 = min(max(x1 + reach, int(hi[0]) + 2), w)
    ey1 = min(max(y1 + reach, int(hi[1]) + 2), h)
    origin = np.array([ex0, ey0], np.int32)
    mask = np.zeros((ey1 - ey0, ex1 - ex0), np.uint8)
    _hull_in(mask, shrunk, origin)
    holes = np.zeros_like(mask)
    for pts in parts:
        _hull_in(holes, pts, origin)
    grown = np.asarray(cv2.dilate(holes, np.ones((k, k), np.uint8)))
    inner = (slice(y0 - ey0, y1 - ey0), slice(x0 - ex0, x1 - ex0))
    return (x0, y0), (mask[inner] > 0) & (grown[inner] == 0)


def background_mask(
    shape: tuple[int, int], box: tuple[float, float, float, float]
) -> NDArray[np.bool_]:
    """The frame outside the person: the face box widened by 0.6× its width on each side and
    extended from 0.6× its height above it down to the frame's bottom (neck, body)."""
    mask = np.ones(shape, bool)
    ya, xa, xb = _person_region(shape, box)
    mask[ya:, xa:xb] = False
    return mask


def _person_region(
    shape: tuple[int, int], box: tuple[float, float, float, float]
) -> tuple[int, int, int]:
    """(top, left, right) of what :func:`background_mask` leaves out (down to the bottom)."""
    w = shape[1]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    xa, xb = max(0, int(x0 - 0.6 * bw)), min(w, math.ceil(x1 + 0.6 * bw))
    return max(0, int(y0 - 0.6 * bh)), xa, xb


SMALL = (80, 60)  # the background is compared at this size (area average): noise, jitter


@dataclass(frozen=True)
class FrameLight:
    """Mean linear RGB of the skin, and the frame's background at low resolution."""

    face: NDArray[np.float64]
    small: NDArray[np.float32]  # (60, 80, 3) linear RGB, area-averaged
    background: NDArray[np.bool_]  # (60, 80): cells wholly background and unclipped
    skin_pixels: int


def usable_pixels(rgb: U8) -> NDArray[np.bool_]:
    """Pixels whose brightest channel is in (20, 250): clipped pixels do not respond to the
    screen's light, very dark ones are noise."""
    return _usable(np.ascontiguousarray(rgb[:, :, :3])) > 0


def _usable(img: U8) -> NDArray[np.uint8]:
    """:func:`usable_pixels` as 255/0: "every channel ≤ 249" minus "every channel ≤ 20"
    (two ``cv2.inRange``; the second set lies inside the first, so the saturating
    subtraction is the set difference), the same set as ``20 < max(r, g, b) < 250`` at a
    tenth of the cost of NumPy's reduction over the 3-channel axis."""
    below = cv2.inRange(img, (0, 0, 0), (249, 249, 249))
    dark = cv2.inRange(img, (0, 0, 0), (20, 20, 20))
    return np.asarray(cv2.subtract(below, dark))


def measure_frame(rgb: U8, mesh: F32, box: tuple[float, float, float, float]) -> FrameLight | None:
    """The light measures of one frame; None when too little unclipped skin is visible.

    Pixels are judged usable only where a measure reads them: the skin's own region
    (:func:`_skin_region`) and the background outside the person (:func:`_person_region`),
    which for a face in the near oval leaves out most of the frame. The same values as
    judging the whole frame (tests/test_screen_light.py); the skin's mean of linear RGB
    visits the same pixels in the same order."""
    h, w = rgb.shape[0], rgb.shape[1]
    img = np.ascontiguousarray(rgb[:, :, :3])
    (x0, y0), skin = _skin_region((h, w), mesh)
    region = (slice(y0, y0 + skin.shape[0]), slice(x0, x0 + skin.shape[1]))
    sel = skin & (_usable(img[region]) > 0) if skin.size else skin
    n = int(np.count_nonzero(sel))
    if n < MIN_SKIN_PIXELS:
        return None
    lin = np.asarray(cv2.LUT(img, _LUT32), dtype=np.float32)
    face = np.array(cv2.mean(lin[region], mask=sel.view(np.uint8))[:3], dtype=np.float64)
    small = np.asarray(cv2.resize(lin, SMALL, interpolation=cv2.INTER_AREA), dtype=np.float32)
    ya, xa, xb = _person_region((h, w), box)
    bg = np.zeros((h, w), np.float32)  # 1.0 where background and usable
    for part in (
        (slice(0, ya), slice(0, w)),
        (slice(ya, h), slice(0, xa)),
        (slice(ya, h), slice(xb, w)),
    ):
        if bg[part].size:
            bg[part] = np.minimum(_usable(img[part]), 1)
    cells = np.asarray(cv2.resize(bg, SMALL, interpolation=cv2.INTER_AREA)) > 0.999
    return FrameLight(face, small, cells, n)


def background_change(a: FrameLight, b: FrameLight) -> NDArray[np.float64] | None:
    """log of the per-channel gain from frame a to b on the static background (auto-exposure,
    white balance, room light): the ratio of sums over background cells of both frames whose
    change is within 0.2 of the median change (cells the person moved across are left out).
    None when too little background is shared."""
    both = a.background & b.background
    if both.mean() < MIN_BACKGROUND_FRACTION:
        return None
    x, y = a.small[both].astype(np.float64), b.small[both].astype(np.float64)
    lx, ly = np.log(np.maximum(x, 1e-4)), np.log(np.maximum(y, 1e-4))
    r = (ly - lx).mean(axis=1)  # per cell, all channels
    keep = np.abs(r - np.median(r)) < 0.2
    if keep.sum() < 20:
        return None
    return np.asarray(np.log(y[keep].sum(axis=0) / np.maximum(x[keep].sum(axis=0), 1e-9)))


# -- the statistic ---------------------------------------------------------------------------
def _chroma(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Remove the common (luminance) part of each step, then centre over the steps."""
    x = x - x.mean(axis=-1, keepdims=True)
    return np.asarray(x - x.mean(axis=-2, keepdims=True))


def face_steps(lights: Sequence[FrameLight], use_background: bool = True) -> NDArray[np.float64]:
    """The face's colour change at each step, relative to the previous frame and to the
    background's change, chroma only: (K−1, 3)."""
    face = np.log(np.maximum(np.array([f.face for f in lights], dtype=np.float64), 1e-6))
    dd = np.diff(face, axis=0)
    if use_background:
        for k in range(1, len(lights)):
            g = background_change(lights[k - 1], lights[k])
            if g is not None:
                dd[k - 1] -= g
    return _chroma(dd)


def screen_steps(screens: NDArray[np.float64]) -> NDArray[np.float64]:
    """The same for the screen's linear RGB (..., K, 3) → (..., K−1, 3)."""
    return _chroma(np.diff(screens, axis=-2))


def fit_statistic(
    dd: NDArray[np.float64], du: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """S and the gains for step changes ``dd`` (K−1, 3) and screen changes ``du`` (..., K−1, 3)."""
    num = np.einsum("kc,...kc->...c", dd, du)
    den = np.einsum("...kc,...kc->...c", du, du)
    gains = np.maximum(0.0, num / np.maximum(den, 1e-12))
    explained = np.sum(gains**2 * den, axis=-1)
    total = float(np.sum(dd * dd))
    return np.sqrt(np.minimum(1.0, explained / max(total, 1e-18))), gains


def contrast(dd: NDArray[np.float64]) -> float:
    """Relative modulation depth of the face's colour: max over channels of rms step change."""
    return float(np.max(np.sqrt(np.mean(dd * dd, axis=0))))


@dataclass
class LightOutcome:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    statistic: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    contrast: float | None = None
    gains: list[float] | None = None

    def public(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), 4)

        return {
            "passed": self.passed,
            "statistic": r(self.statistic),
            "threshold": r(self.threshold),
            "p_value": r(self.p_value),
            "contrast": r(self.contrast),
            "min_contrast": MIN_CONTRAST,
        }


def judge(lights: Sequence[FrameLight], seq: LightSequence) -> LightOutcome:
    """The screen-light verdict for one measure per colour, in the sequence's order."""
    if len(lights) != len(seq.colors) or len(lights) < PROTOCOL_COLOURS[0]:
        return LightOutcome(False, ["light_frames_missing"])
    dd = face_steps(lights)
    c = contrast(dd)
    codes, du = _orders(tuple(sorted(seq.colors)))  # (N, K), (N, K−1, 3)
    stats, gains = fit_statistic(dd, du)
    colours = sorted(set(seq.colors))
    drawn_code = np.array([colours.index(c) for c in seq.colors], dtype=np.intp)
    # The drawn order is one of them (issued sequences are valid): its row.
    drawn = int(np.flatnonzero((codes == drawn_code).all(axis=1))[0])
    s = float(stats[drawn])
    # p = share of arrangements at least as good (ties against the capture); p ≤ α ⟺ S is
    # above the (m+1)-th best value, m = ⌊α·N⌋.
    p = float(np.mean(stats >= s - 1e-12))
    m = math.floor(ALPHA * len(codes))
    ranked = np.sort(stats)[::-1]
    quantile = float(ranked[min(m, len(ranked) - 1)])
    out = LightOutcome(
        False,
        [],
        statistic=s,
        threshold=max(MIN_STATISTIC, quantile),
        p_value=p,
        contrast=c,
        gains=[round(float(g), 5) for g in gains[drawn]],
    )
    if c < MIN_CONTRAST:
        out.reasons.append("light_too_weak")
    elif p > ALPHA or s < MIN_STATISTIC:
        out.reasons.append("light_not_followed")
    out.passed = not out.reasons
    return out


# -- simulation (evaluation and tests) -------------------------------------------------------
def simulate_screen_light(
    rgb: U8,
    box: tuple[float, float, float, float],
    color: str,
    depth: float,
    rng: np.random.Generator,
    *,
    background_share: float = 0.05,
    exposure_jitter: float = 0.02,
    noise_dn: float = 2.0,
) -> U8:
    """The frame as the camera would see it with the screen showing ``color``.

    Light adds: in linear RGB the face's pixels are multiplied by ``1 + depth · s_c`` (s the
    screen colour, 0..1 per channel, reflected by the skin's own albedo), inside a feathered
    ellipse 1.3× the face box (face, hair, neck: what is at the screen's distance); the
    background gets ``background_share`` of that (inverse-square fall-off). Then one random
    exposure/white-balance gain per frame and channel (±``exposure_jitter``, what a camera's
    auto-exposure does) and Gaussian sensor noise in 8-bit units. The caller JPEG-encodes.
    Not a measurement model: the measuring code never sees this ellipse.
    """
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax, ay = 0.65 * (x1 - x0), 0.75 * (y1 - y0)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    weight = np.clip((1.15 - r) / 0.3, 0.0, 1.0)  # 1 inside, fading to 0 at r = 1.15
    weight = background_share + (1 - background_share) * weight
    s = hex_to_linear(color)
    lin = _LUT[rgb]
    gain = 1.0 + depth * weight[..., None] * s[None, None, :]
    gain = gain * (1.0 + rng.normal(0.0, exposure_jitter, 3))[None, None, :]
    out = np.clip(lin * gain, 0.0, 1.0)
    srgb = np.where(out <= 0.0031308, out * 12.92, 1.055 * out ** (1 / 2.4) - 0.055) * 255.0
    srgb = srgb + rng.normal(0.0, noise_dn, srgb.shape)
    return np.clip(np.round(srgb), 0, 255).astype(np.uint8)
