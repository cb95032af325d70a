"""Cheap, physically motivated presentation-attack cues, one function each.

Every cue looks at a face that a camera saw either directly (live) or through a second medium
(a screen or a print re-filmed by the camera). The second medium leaves traces that do not
depend on who the subject is:

* a screen is a pixel grid: re-filming it aliases the grid into narrow-band **moiré** peaks;
* a screen or a print has a limited **colour gamut** and lifted blacks: saturation and
  dynamic range of the face shrink or shift;
* a glossy screen or photo adds **specular** reflections that are not on skin;
* the extra optical pass adds **defocus blur** and, for replays, a second lossy
  compression, visible as **8×8 block** discontinuities of the first JPEG/video codec, and
  its own **noise** level.

To keep the size of the face crop (which differs systematically between live and attack
samples in the dev data) out of the features, the face is resampled to a fixed size before
the texture cues, and cues that must use native pixels (blockiness) are ratios that do not
scale with the crop. Inputs are uint8 RGB; outputs are plain floats.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from faceproof.face.record import F32, U8

INNER_FACE = 0.7  # side of the inner-face square (cheeks, eyes, nose, mouth) over the box side


def face_square(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The inner-face square of a detector box: skin and features, no hair or background.

    Centred slightly below the box centre (BlazeFace boxes include the forehead).
    """
    x0, y0, x1, y1 = box
    side = INNER_FACE * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.05 * (y1 - y0)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def native_patch(rgb: U8, square: tuple[float, float, float, float]) -> U8:
    """The stored pixels of ``square`` (clipped to the image): cues that need the codec grid."""
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(square[0])), max(0, int(square[1]))
    x1, y1 = min(w, int(square[2])), min(h, int(square[3]))
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


def _grey(rgb: U8) -> F32:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def saturation_stats(face: U8) -> tuple[float, float]:
    """Mean and spread of HSV saturation: re-displayed skin loses or gains saturation."""
    hsv = cv2.cvtColor(face, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    s = hsv[:, :, 1] / 255.0
    return float(s.mean()), float(s.std())


def dynamic_range(face: U8) -> tuple[float, float]:
    """Luma 2nd and 98th percentiles / 255: screens and prints lift blacks and clip whites."""
    y = _grey(face)
    lo, hi = np.percentile(y, [2, 98])
    return float(lo / 255.0), float(hi / 255.0)


def specular_fraction(face: U8) -> float:
    """Share of bright, colourless pixels: glare of a glossy screen/photo (skin glints are few)."""
    hsv = cv2.cvtColor(face, cv2.COLOR_RGB2HSV_FULL)
    mask = (hsv[:, :, 2] > 230) & (hsv[:, :, 1] < 40)
    return float(mask.mean())


def high_frequency_ratio(face: U8) -> float:
    """Share of spectral energy above a quarter of the sampling rate (log ratio)."""
    y = _grey(face)
    y = (y - y.mean()) * np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    p = np.abs(np.fft.fftshift(np.fft.fft2(y))) ** 2
    r = _radius(p.shape)
    high = p[r > 0.25].sum()
    mid = p[(r > 0.05) & (r <= 0.25)].sum()
    return float(np.log((high + 1e-6) / (mid + 1e-6)))


def moire_peakiness(face: U8) -> float:
    """Narrow-band peaks over the radial spectrum trend: the aliased screen pixel grid.

    Natural skin has a smooth, roughly 1/f spectrum; moiré adds isolated peaks. The cue is the
    99.9th percentile of the log spectrum minus its per-radius median, in the mid/high band.
    """
    y = _grey(face)
    y = (y - y.mean()) * np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    logp = np.log(np.abs(np.fft.fftshift(np.fft.fft2(y))) ** 2 + 1e-3)
    r = _radius(logp.shape)
    bins = np.minimum((r * 40).astype(np.int32), 20)
    med = np.zeros(21, dtype=np.float32)
    for b in range(21):
        sel = logp[bins == b]
        med[b] = np.median(sel) if sel.size else 0.0
    resid = logp - med[bins]
    band = (r > 0.12) & (r < 0.48)
    return float(np.percentile(resid[band], 99.9))


def _radius(shape: tuple[int, ...]) -> F32:
    """Normalised spatial frequency (cycles/pixel) of each bin of a centred 2-D spectrum."""
    fy = np.fft.fftshift(np.fft.fftfreq(shape[0]))
    fx = np.fft.fftshift(np.fft.fftfreq(shape[1]))
    return np.asarray(np.hypot(fy[:, None], fx[None, :]), dtype=np.float32)


def blockiness(native_face: U8) -> float:
    """8×8 codec block edges at native resolution (log ratio; compression of a re-filmed video).

    For each of the 8 grid phases, the mean absolute luma step across columns/rows at that
    phase; a block codec makes one phase stand out over the others. Being a ratio of steps on
    the same pixels, it does not grow or shrink with the crop size.
    """
    y = _grey(native_face)
    if min(y.shape) < 24:
        return 0.0
    dx = np.abs(np.diff(y, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(y, axis=0)).mean(axis=1)
    px = np.array([dx[k::8].mean() for k in range(8)])
    py = np.array([dy[k::8].mean() for k in range(8)])
    return float(
        np.log((px.max() + 1e-3) / (np.median(px) + 1e-3))
        + np.log((py.max() + 1e-3) / (np.median(py) + 1e-3))
    )


def noise_level(face: U8) -> float:
    """Robust sensor-noise estimate (log MAD of a Laplacian-like residual over luma level)."""
    y = _grey(face)
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    resid = cv2.filter2D(y, cv2.CV_32F, k)
    return float(np.log(np.median(np.abs(resid)) + 1e-2))


def spectral_slope(face: U8) -> float:
    """Slope of log radial power vs log frequency: blur steepens the natural ~1/f² fall-off."""
    y = _grey(face)
    y = (y - y.mean()) * np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    p = np.abs(np.fft.fftshift(np.fft.fft2(y))) ** 2
    r = _radius(p.shape)
    edges = np.geomspace(0.04, 0.5, 9)
    f, e = [], []
    for a, b in itertools.pairwise(edges):
        sel = (r >= a) & (r < b)
        if sel.any():
            f.append(np.log(np.sqrt(a * b)))
            e.append(np.log(p[sel].mean() + 1e-6))
    return float(np.polyfit(f, e, 1)[0])
