"""``faceproof envelope make`` refuses frames the server would refuse (901), or letterboxes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from faceproof.client.frames import FrameSizeError, capture_frame
from faceproof.crypto.envelope import EnvelopeOpener
from faceproof.crypto.keystore import KeyStore
from faceproof.crypto.replay import MemoryNonceStore


def _jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    im = Image.linear_gradient("L").resize(size).convert("RGB")  # synthetic, non-biometric
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    im.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def _size(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg)) as im:
        return im.size


@pytest.mark.parametrize("size", [(640, 480), (480, 640)])
def test_capture_sizes_pass_unchanged(size: tuple[int, int]) -> None:
    data = _jpeg(size)
    assert capture_frame(data) == data


def test_other_sizes_refused_naming_size_and_fit() -> None:
    with pytest.raises(FrameSizeError) as info:
        capture_frame(_jpeg((565, 800)), name="tom.jpg")
    text = str(info.value)
    assert "tom.jpg is 565×800" in text and "901" in text and "--fit" in text


def test_exif_orientation_counts_as_the_server_sees_it() -> None:
    # Stored 480×640, rotated 90° by EXIF: upright 640×480 passes; the reverse too.
    data = _jpeg((480, 640), orientation=6)
    assert capture_frame(data) == data
    with pytest.raises(FrameSizeError, match="640×480"):
        capture_frame(_jpeg((640, 640), orientation=6))


@pytest.mark.parametrize(
    ("size", "framed"),
    [((565, 800), (480, 640)), ((1000, 500), (640, 480)), ((64, 48), (640, 480))],
)
def test_fit_letterboxes_by_orientation(size: tuple[int, int], framed: tuple[int, int]) -> None:
    out = capture_frame(_jpeg(size), fit=True)
    assert _size(out) == framed
    with Image.open(io.BytesIO(out)) as im:
        rgb = im.convert("RGB")
        corner = rgb.getpixel((0, 0))
        centre = rgb.getpixel((framed[0] // 2, framed[1] // 2))
    if size[0] * framed[1] != size[1] * framed[0]:  # another aspect: black bars at an edge
        assert isinstance(corner, tuple) and max(corner) < 16
    assert isinstance(centre, tuple) and max(centre) > 16  # the photo itself is kept


def test_cli_make_refuses_then_fits(tmp_path: Path) -> None:
    from faceproof.cli.envelope import envelope

    store = KeyStore.open(tmp_path / "data" / "keys")
    image = tmp_path / "portrait.jpg"
    image.write_bytes(_jpeg((565, 800)))
    runner = CliRunner()
    args = ["make", str(image), "--data-dir", str(tmp_path / "data"), "-o", "-"]
    refused = runner.invoke(envelope, args)
    assert refused.exit_code != 0
    assert "565×800" in refused.output and "--fit" in refused.output
    fitted = runner.invoke(envelope, [*args, "--fit"])
    assert fitted.exit_code == 0, fitted.output
    opener = EnvelopeOpener(store, MemoryNonceStore())
    payload = opener.open(fitted.stdout.strip())
    assert _size(payload.frames[0].data) == (480, 640)
