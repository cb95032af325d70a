"""A stand-in for ID-card portraits: degrade a photo the way a printed, rescanned card does.

No public data set pairs selfies with ID-card portraits of the same people, so the selfie-vs-ID
thresholds are calibrated on ordinary photos whose reference side is degraded like a card
portrait (docs/matching.md, "ID proxy"):

1. resolution: downscale so the inter-pupil distance is 60–120 px (30–60 px for 30 % of
   the draws: small card portraits, OCR crops); never upscale, detail cannot be added;
2. print: contrast and saturation compressed, a slight tint, a gamma shift;
3. rescan: optical blur, a halftone screen (rotated periodic pattern), sensor noise;
4. greyscale for 25 % (laser-engraved portraits on polycarbonate cards are grey);
5. JPEG at quality 40–70.

Parameters are drawn from a generator seeded by the image's key, so a calibration run is
reproducible. Everything stays in memory.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

from faceproof.face.record import U8

PROXY_VERSION = "id-proxy-1"


@dataclass(frozen=True)
class ProxyParams:
    target_inter_eye: float  # px
    contrast: float  # gain around mid-grey
    saturation: float
    tint: tuple[float, float, float]  # per-channel gain
    gamma: float
    blur_sigma: float  # px, at the portrait's final scale
    halftone_amplitude: float  # grey levels
    halftone_period: float  # px
    halftone_angle: float  # degrees
    noise_sigma: float  # grey levels
    greyscale: bool
    jpeg_quality: int


def sample_params(rng: np.random.Generator) -> ProxyParams:
    low_res = rng.random() < 0.3
    return ProxyParams(
        target_inter_eye=float(rng.uniform(30, 60) if low_res else rng.uniform(60, 120)),
        contrast=float(rng.uniform(0.75, 0.95)),
        saturation=float(rng.uniform(0.55, 0.9)),
        tint=tuple(float(x) for x in rng.uniform(0.94, 1.06, size=3)),  # type: ignore[arg-type]
        gamma=float(rng.uniform(0.85, 1.2)),
        blur_sigma=float(rng.uniform(0.6, 1.3)),
        halftone_amplitude=float(rng.uniform(3, 9)),
        halftone_period=float(rng.uniform(2.5, 4.5)),
        halftone_angle=float(rng.uniform(0, 90)),
        noise_sigma=float(rng.uniform(1, 4)),
        greyscale=bool(rng.random() < 0.25),
        jpeg_quality=int(rng.integers(40, 71)),
    )


def rng_for(key: str, seed: int = 0) -> np.random.Generator:
    """A generator fixed by the image's key (e.g. its relative path) and the run's seed."""
    digest = hashlib.sha256(f"{PROXY_VERSION}:{seed}:{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def degrade(rgb: U8, inter_eye: float, params: ProxyParams, rng: np.random.Generator) -> U8:
    """The ID-portrait version of ``rgb`` (uint8 RGB), given its inter-eye distance in px."""
    img: np.ndarray = rgb
    if inter_eye > params.target_inter_eye:
        scale = params.target_inter_eye / inter_eye
        size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    x: np.ndarray = img.astype(np.float32) / 255.0
    # Print: ink gamut and paper compress contrast and saturation.
    grey = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    x = grey[..., None] + params.saturation * (x - grey[..., None])
    x = 0.5 + params.contrast * (x - 0.5)
    x = np.clip(x * np.asarray(params.tint, dtype=np.float32), 0.0, 1.0) ** params.gamma
    x *= 255.0
    # Rescan: optics, the print's halftone screen, sensor noise.
    x = cv2.GaussianBlur(x, (0, 0), params.blur_sigma)
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = np.deg2rad(params.halftone_angle)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    k = 2 * np.pi / params.halftone_period
    screen = params.halftone_amplitude * np.cos(k * u) * np.cos(k * v)
    x = x + screen[..., None] + rng.normal(0.0, params.noise_sigma, size=x.shape)
    out = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if params.greyscale:
        g = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.repeat(g[..., None], 3, axis=2)
    buf = io.BytesIO()  # in memory only: biometric images never touch the disk
    Image.fromarray(out).save(buf, format="JPEG", quality=params.jpeg_quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def degrade_keyed(rgb: U8, inter_eye: float, key: str, seed: int = 0) -> tuple[U8, ProxyParams]:
    """Deterministic degradation of one image: parameters and noise from ``key`` and ``seed``."""
    rng = rng_for(key, seed)
    params = sample_params(rng)
    return degrade(rgb, inter_eye, params, rng), params


def describe() -> dict[str, object]:
    """The proxy's definition, for the calibration file."""
    return {
        "version": PROXY_VERSION,
        "steps": [
            "downscale to inter-pupil 60-120 px (30-60 px in 30% of draws), never upscale",
            "print: saturation x0.55-0.9, contrast x0.75-0.95, tint +-6%, gamma 0.85-1.2",
            "rescan: gaussian blur sigma 0.6-1.3 px, halftone screen 3-9 levels at 2.5-4.5 px, "
            "noise sigma 1-4 levels",
            "greyscale in 25% of draws",
            "JPEG quality 40-70",
        ],
        "example": asdict(sample_params(rng_for("example"))),
    }
