"""``faceproof envelope``: build capture envelopes from image files, as an SDK would.

For integration tests, load tests and debugging a deployment without a browser. The public
key comes either from a running server (``POST /api/v1/pub_key``) or from the local key store.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click
from joserfc.jwk import RSAKey
from pydantic import ValidationError

from faceproof.cli.keys import open_store
from faceproof.client.frames import capture_frame
from faceproof.crypto.envelope import CaptureOptions, build_envelope

_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def fetch_public_jwk(server: str, timeout: float = 10.0) -> dict[str, Any]:
    """The current public JWK of a faceproof server, checked against its kid."""
    url = server.rstrip("/") + "/api/v1/pub_key"
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise click.BadParameter("must be an http(s) URL", param_hint="--server")
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read(1 << 20))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot fetch the public key from {url}: {exc}") from None
    jwk = body.get("jwk") if isinstance(body, dict) else None
    if not isinstance(jwk, dict):
        raise click.ClickException(f"{url} did not return a JWK")
    try:
        thumb = RSAKey.import_key(jwk).thumbprint()
    except Exception:
        raise click.ClickException(f"{url} returned an unusable RSA JWK") from None
    if jwk.get("kid", thumb) != thumb:
        raise click.ClickException(f"{url} returned a JWK whose kid is not its thumbprint")
    return jwk


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` pairs → CaptureOptions fields, typed by the field they name."""
    fields = CaptureOptions.model_fields
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in fields:
            hint = f"{pair!r}: expected k=v with k in {', '.join(fields)}"
            raise click.BadParameter(hint, param_hint="--option")
        annotation = fields[name].annotation
        if annotation is bool:
            if value.lower() not in _BOOL:
                raise click.BadParameter(f"{name} must be true or false", param_hint="--option")
            out[name] = _BOOL[value.lower()]
        elif name == "requiredTemplates":
            out[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[name] = value or None
    return out


@click.group("envelope")
def envelope() -> None:
    """Capture envelopes (JWE) like the SDK sends."""


@envelope.command("make")
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--server", help="faceproof base URL to fetch the public key from.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Use the local key store <dir>/keys instead of a server (default: FACEPROOF_DATA_DIR).",
)
@click.option("--option", "options", multiple=True, metavar="K=V", help="Capture option.")
@click.option(
    "--device-type", type=click.Choice(["mobile", "desktop", "unknown"]), default="desktop"
)
@click.option("--camera-label", default=None)
@click.option("--ts-ms", type=int, default=None, help="Capture time, epoch ms (default: now).")
@click.option(
    "--fit",
    is_flag=True,
    help="Letterbox images that are not 640×480 or 480×640 (else they are refused).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the envelope ('-' for stdout).",
)
def make(
    images: tuple[Path, ...],
    server: str | None,
    data_dir: Path | None,
    options: tuple[str, ...],
    device_type: str,
    camera_label: str | None,
    ts_ms: int | None,
    fit: bool,
    output: str,
) -> None:
    """Seal IMAGE files (JPEG or PNG) into one envelope, main frame first.

    Every frame must be 640×480 or 480×640 after its EXIF orientation, as the server
    refuses any other size (901 ERROR_WRONG_RESOLUTION): another size is refused here with
    a message, or letterboxed (scaled to fit, on black, nothing cropped) with --fit.
    """
    if server and data_dir:
        raise click.UsageError("give --server or --data-dir, not both")
    jwk = fetch_public_jwk(server) if server else open_store(data_dir).public_jwk()
    try:
        frames = [capture_frame(path, fit=fit, name=str(path)) for path in images]
        token = build_envelope(
            frames,
            jwk,
            options=parse_options(options),
            device={"type": device_type, "cameraLabel": camera_label},
            ts_ms=ts_ms,
        )
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    if output == "-":
        sys.stdout.write(token.decode("ascii") + "\n")
    else:
        Path(output).write_bytes(token)
        click.echo(f"wrote {len(token)} bytes to {output}", err=True)
