"""Peak memory of hostile images: decompression bombs, huge JPEGs, envelopes of large frames.

Each case runs in a fresh child process that records its peak RSS (``VmHWM``, the kernel's
high-water mark, which no later free can lower) after warming up on a small image, then
again after the hostile input: the difference is what that input cost. Stated bounds:

* one decode costs at most 8 bytes per pixel (Pillow's raster, 4 B/px for RGB(A), plus our
  RGB array, 3 B/px, plus a quarter-megapixel band of temporaries): a 40 Mpx image
  ≤ 320 MB; a progressive JPEG adds its decoder's coefficients (6 B/px at 4:4:4) and stays
  within ``working_bytes``, the figure the decode budget reserves. Before the bound, an RGBA
  bomb cost about 60 bytes per pixel (2.3 GB);
* three bombs decoded at once stay within the decode budget (256 MB here) plus the three
  RGB results, instead of three times the single cost;
* an envelope of 16 frames declaring 6320×6320 each costs at most 64 MB (only headers
  are read; it is refused 901 before any frame is decoded).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PRELUDE = textwrap.dedent(
    """
    import io, json, struct, sys, threading, zlib
    import numpy as np
    from PIL import Image
    from faceproof.pipeline import decode

    def hwm_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def png_bomb(w, h):
        # An RGBA PNG whose every row is transparent: a few hundred KB for 40 Mpx.
        def chunk(kind, body):
            return struct.pack(">I", len(body)) + kind + body + struct.pack(
                ">I", zlib.crc32(kind + body))
        raw = zlib.compress(b"".join(b"\\x00" + bytes(4 * w) for _ in range(h)), 9)
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
        return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw)
                + chunk(b"IEND", b""))

    def jpeg_of(w, h, quality=70, **options):
        rng = np.random.default_rng(0)
        small = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
        buf = io.BytesIO()
        small.resize((w, h)).save(buf, "JPEG", quality=quality, **options)
        return buf.getvalue()

    warm = jpeg_of(640, 480)
    decode.decode_image(warm)  # libraries initialised before the baseline
    """
)


def _child(body: str, timeout: float = 300) -> dict[str, float]:
    code = PRELUDE + textwrap.dedent(body)
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    assert r.returncode == 0, r.stderr[-3000:]
    result: dict[str, float] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def test_rgba_png_bomb_costs_at_most_8_bytes_per_pixel() -> None:
    out = _child(
        """
        bomb = png_bomb(6000, 6600)
        base = hwm_mb()
        img = decode.decode_image(bomb, max_pixels=40_000_000)
        print(json.dumps({"kb": len(bomb) / 1024, "delta": hwm_mb() - base,
                          "shape": list(img.rgb.shape), "white": int(img.rgb.min())}))
        """
    )
    assert out["kb"] < 400  # it is a bomb: tiny file, 39.6 Mpx
    assert out["shape"] == [6600, 6000, 3] and out["white"] == 255
    assert out["delta"] <= 8 * 6000 * 6600 / 2**20, out


def test_40_megapixel_jpeg_costs_at_most_8_bytes_per_pixel() -> None:
    out = _child(
        """
        big = jpeg_of(7680, 5200)
        base = hwm_mb()
        img = decode.decode_image(big, max_pixels=40_000_000)
        print(json.dumps({"delta": hwm_mb() - base, "shape": list(img.rgb.shape)}))
        """
    )
    assert out["shape"] == [5200, 7680, 3]
    assert out["delta"] <= 8 * 7680 * 5200 / 2**20, out


def test_40_megapixel_progressive_jpeg_stays_within_its_reservation() -> None:
    out = _child(
        """
        big = jpeg_of(7680, 5200, progressive=True, subsampling=0)  # 4:4:4, the worst
        base = hwm_mb()
        img = decode.decode_image(big, max_pixels=40_000_000)
        im = Image.open(io.BytesIO(big))
        need = decode.working_bytes(im.mode, 7680 * 5200, decode._decoder_bytes_per_pixel(im))
        print(json.dumps({"delta": hwm_mb() - base, "reserved": need / 2**20,
                          "shape": list(img.rgb.shape)}))
        """
    )
    assert out["shape"] == [5200, 7680, 3]
    assert out["delta"] <= out["reserved"], out
    assert out["reserved"] <= 640, out  # fits the default budget


def test_three_bombs_at_once_queue_on_the_decode_budget() -> None:
    out = _child(
        """
        bomb = png_bomb(4000, 4000)  # 16 Mpx: 7 B/px = 107 MB each, two fit in 256 MB
        decode.configure_decode_memory(256 * 2**20)
        base = hwm_mb()
        peak_in_use = []
        def work():
            img = decode.decode_image(bomb, max_pixels=40_000_000)
            peak_in_use.append(decode.DECODE_BUDGET.in_use)
            del img
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(json.dumps({"delta": hwm_mb() - base, "done": len(peak_in_use),
                          "in_use_after": decode.DECODE_BUDGET.in_use}))
        """
    )
    assert out["done"] == 3 and out["in_use_after"] == 0
    # Budget (256 MB) plus the RGB results held while the others decode (3 × 48 MB).
    assert out["delta"] <= 256 + 3 * 48 + 16, out


def test_decode_larger_than_the_whole_budget_is_refused() -> None:
    out = _child(
        """
        from faceproof.errors import ApiError
        decode.configure_decode_memory(64 * 2**20)
        bomb = png_bomb(4000, 4000)
        base = hwm_mb()
        try:
            decode.decode_image(bomb, max_pixels=40_000_000)
            code = 200
        except ApiError as exc:
            code = exc.kind.code
        print(json.dumps({"delta": hwm_mb() - base, "code": code}))
        """
    )
    assert out["code"] == 900
    assert out["delta"] < 16, out


def test_envelope_of_16_large_frames_is_refused_from_the_headers(tmp_path: Path) -> None:
    out = _child(
        f"""
        import base64, time
        from faceproof.api.capture import open_capture
        from faceproof.api.deps import build_services
        from faceproof.config import load_settings
        from faceproof.crypto.envelope import CapturePayload, Frame, new_nonce, seal
        from faceproof.errors import ApiError

        services = build_services(load_settings(
            data_dir={str(tmp_path / "data")!r}, require_models=False))
        jwk = services.keystore.public_jwk()
        # 34 KB that declare 6320x6320: the start of a flat JPEG, then its end marker (a
        # decoder allocates and decodes all 40 Mpx before it finds the data short).
        buf = io.BytesIO()
        Image.new("RGB", (6320, 6320), (128, 128, 128)).save(buf, "JPEG", quality=50)
        bomb = buf.getvalue()[: 34 * 1024 - 2] + b"\\xff\\xd9"
        assert Image.open(io.BytesIO(bomb)).size == (6320, 6320)
        small = jpeg_of(640, 480)
        def token(frames):
            payload = CapturePayload(nonce=new_nonce(), ts=int(time.time() * 1000), frames=[
                Frame(jpeg=base64.b64encode(f).decode(), t=i * 100)
                for i, f in enumerate(frames)])
            return seal(payload, jwk)
        tokens = [token([bomb] * 16), token([small] + [bomb] * 15)]
        base = hwm_mb()
        codes = []
        for t in tokens:
            try:
                open_capture(services, t)
                codes.append(200)
            except ApiError as exc:
                codes.append(exc.kind.code)
        print(json.dumps({{"kb": len(bomb) / 1024, "delta": hwm_mb() - base, "codes": codes}}))
        """
    )
    assert out["kb"] <= 34
    assert out["codes"] == [901, 901]
    assert out["delta"] <= 64, out


@pytest.mark.parametrize("mode", ["RGBA", "LA", "I;16", "RGB", "P"])
def test_every_mode_stays_within_the_working_memory_estimate(mode: str) -> None:
    out = _child(
        f"""
        mode = {mode!r}
        w, h = 4000, 3000
        im = Image.new("RGB", (w, h), (90, 120, 200))
        im = im.convert("I;16") if mode == "I;16" else im.convert(mode)
        buf = io.BytesIO(); im.save(buf, "PNG"); data = buf.getvalue(); del im
        base = hwm_mb()
        decode.decode_image(data, max_pixels=40_000_000)
        estimate = decode.working_bytes(Image.open(io.BytesIO(data)).mode, w * h) / 2**20
        print(json.dumps({{"delta": hwm_mb() - base, "estimate": estimate}}))
        """
    )
    assert out["delta"] <= out["estimate"] + 8, out
