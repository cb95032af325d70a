"""Cheap, physically motivated presentation-attack cues, one function each.

Every cue looks at a face that a camera saw either directly (live) or through a second medium
(a screen or a print re-filmed by the camera). The second medium leaves traces that do not
depend on who the subject is:

* a screen is a pixel grid: re-filming it aliases the grid into narrow-band **moiré** peaks;
* a screen or a print has a limited **colour gamut** and lifted blacks: saturation, chroma
  spread and dynamic range of the face shrink or shift;
* a glossy screen or photo adds **specular** reflections that are not on skin;
* the extra optical pass adds **defocus blur** and, for replays, a second lossy
  compression, visible as **8×8 block** discontinuities of the first JPEG/video codec;
* the medium has straight **edges** (bezel, paper border) around the face.

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


def chroma_spread(face: U8) -> float:
    """Spread of the (Cr, Cb) chroma cloud: a display's gamut compresses skin-tone variety."""
    ycc = cv2.cvtColor(face, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    cov = np.cov(ycc[:, :, 1].ravel(), ycc[:, :, 2].ravel())
    return float(np.sqrt(max(np.linalg.det(cov), 0.0)) ** 0.5)


def blue_shift(face: U8) -> float:
    """Mean (B − R)/(R + G + B): backlit screens render skin bluer than daylight/indoor light."""
    f = face.astype(np.float32)
    total = f.sum(axis=2) + 1.0
    return float(((f[:, :, 2] - f[:, :, 0]) / total).mean())


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


def sharpness(face: U8) -> float:
    """Laplacian energy over local contrast (log): the second optical pass defocuses the face."""
    y = _grey(face)
    lap = cv2.Laplacian(y, cv2.CV_32F, ksize=3)
    contrast = float(y.std()) + 1.0
    return float(np.log(lap.var() + 1e-3) - 2 * np.log(contrast))


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


def straight_edges(context: U8, face_box: tuple[float, float, float, float]) -> float:
    """Long straight lines around (not on) the face: a bezel or paper border (Hough, relative).

    Sums the length of line segments longer than half the face width that lie outside the
    face box, over the face width; 0 when the image shows nothing around the face.
    """
    h, w = context.shape[:2]
    x0, y0, x1, y1 = face_box
    fw = max(x1 - x0, 1.0)
    scale = min(1.0, 320.0 / max(h, w))
    small = np.asarray(
        cv2.resize(context, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8
    )
    edges = cv2.Canny(_grey(small).astype(np.uint8), 60, 150)
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 180, threshold=40, minLineLength=int(0.5 * fw * scale), maxLineGap=4
    )
    if lines is None:
        return 0.0
    total = 0.0
    for xa, ya, xb, yb in lines.reshape(-1, 4).astype(np.float32) / scale:
        mx, my = (xa + xb) / 2, (ya + yb) / 2
        if x0 <= mx <= x1 and y0 <= my <= y1:
            continue
        total += float(np.hypot(xb - xa, yb - ya))
    return float(np.log1p(total / fw))


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


def chroma_detail(face: U8) -> float:
    """Chroma high-frequency energy relative to luma's (log): twice-subsampled chroma of a
    re-filmed video loses colour detail faster than brightness detail."""
    ycc = cv2.cvtColor(face, cv2.COLOR_RGB2YCrCb).astype(np.float32)

    def detail(ch: F32) -> float:
        return float(np.abs(cv2.Laplacian(ch, cv2.CV_32F, ksize=3)).mean())

    c = detail(ycc[:, :, 1]) + detail(ycc[:, :, 2])
    return float(np.log((c + 1e-2) / (detail(ycc[:, :, 0]) + 1e-2)))


def edge_width(face: U8) -> float:
    """Mean 10–90 % width of strong luma edges along the gradient (pixels): defocus blur.

    Unlike energy ratios it is insensitive to sensor noise, which adds energy but no edges.
    """
    y = cv2.GaussianBlur(_grey(face), (3, 3), 0.6)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    thr = np.percentile(mag, 95)
    ys, xs = np.nonzero(mag >= thr)
    if ys.size == 0:
        return 0.0
    h, w = y.shape
    keep = np.argsort(-mag[ys, xs])[:400]
    ys, xs = ys[keep], xs[keep]
    ux = (gx[ys, xs] / (mag[ys, xs] + 1e-6))[:, None]
    uy = (gy[ys, xs] / (mag[ys, xs] + 1e-6))[:, None]
    t = np.arange(-6, 7, dtype=np.float32)[None, :]
    map_x = np.clip(xs[:, None] + t * ux, 0, w - 1).astype(np.float32)
    map_y = np.clip(ys[:, None] + t * uy, 0, h - 1).astype(np.float32)
    prof = cv2.remap(y, map_x, map_y, cv2.INTER_LINEAR)  # (n, 13) profiles across the edges
    lo, hi = prof.min(axis=1, keepdims=True), prof.max(axis=1, keepdims=True)
    ok = (hi - lo)[:, 0] >= 8
    if not ok.any():
        return 0.0
    n = (prof[ok] - lo[ok]) / (hi[ok] - lo[ok])
    widths = ((n > 0.1) & (n < 0.9)).sum(axis=1)
    return float(widths.mean())
