"""``faceproof call ENDPOINT …``: call a running server's endpoint from the shell.

A thin layer over :mod:`faceproof.client` (the same requests, envelopes and errors): the
answer is printed as JSON (long base64 strings shortened unless ``--full``); a documented
error prints its body and exits 1, a transport failure exits 2. ENDPOINT is the path after
``/api/v1/`` (``face/as``, ``matchWithSelfie`` …; a pasted ``/api/v1/…`` path works too).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from faceproof.cli.envelope import parse_options
from faceproof.client import FaceproofClient, FaceproofError, TransportError

MATCH_LEVELS = ("LOW", "MEDIUM", "HIGH", "VERY_HIGH", "HIGHEST")
_SHORT = 96  # longest string printed whole without --full
_Image = click.Path(exists=True, dir_okay=False, path_type=Path)


class _Endpoints(click.Group):
    """Accepts the endpoint as its path too: ``/api/v1/face/as`` → ``face/as``."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = cmd_name.removeprefix("/api/v1/").strip("/")
        return super().get_command(ctx, name) or super().get_command(ctx, cmd_name)


@click.group("call", cls=_Endpoints)
@click.option(
    "--server",
    default=lambda: os.environ.get("FACEPROOF_SERVER", "http://127.0.0.1:8080"),
    show_default="FACEPROOF_SERVER or http://127.0.0.1:8080",
    help="Base URL of the faceproof server.",
)
@click.option("--full", is_flag=True, help="Print long base64 strings whole.")
@click.option("--request-id", default=None, help="Send the reference's requestID header.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds.")
@click.pass_context
def call(
    ctx: click.Context, server: str, full: bool, request_id: str | None, timeout: float
) -> None:
    """Call one endpoint of a running server and print its JSON answer.

    \b
    faceproof call face_health
    faceproof call matchWithSelfie a.jpg b.jpg --level HIGH
    faceproof call process selfie.jpg --option requiredTemplates=JPEG --fit
    faceproof call face/as photo.jpg --threshold BALANCED_VERY_HIGH
    """
    ctx.obj = {"server": server, "full": full, "request_id": request_id, "timeout": timeout}


def _run(ctx: click.Context, fn: Callable[[Any], Any]) -> None:
    """Runs ``fn(client)``, prints the answer; documented errors print their body, exit 1."""
    obj = ctx.find_object(dict) or {}
    client = FaceproofClient(
        obj.get("server", "http://127.0.0.1:8080"),
        timeout=obj.get("timeout", 120.0),
        request_id=obj.get("request_id"),
    )
    full = bool(obj.get("full"))
    try:
        with client:
            result = fn(client)
    except TransportError as exc:
        click.echo(f"faceproof call: {exc.description}", err=True)
        sys.exit(2)
    except FaceproofError as exc:
        _print(exc.body, full)
        click.echo(f"faceproof call: {exc}", err=True)
        sys.exit(1)
    except (ValueError, TypeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    _print(result, full)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if hasattr(value, "__dataclass_fields__"):
        return {k: v for k, v in asdict(value).items() if k != "raw"}
    return value


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _SHORT:
        return f"{value[:40]}…<{len(value)} chars>"
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value


def _print(value: Any, full: bool) -> None:
    plain = _plain(value)
    click.echo(json.dumps(plain if full else _shorten(plain), indent=2, ensure_ascii=False))


# -- options shared by the capture endpoints --------------------------------------------------
def _capture_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--option", "options", multiple=True, metavar="K=V", help="Capture option (repeat)."
    )(fn)
    fn = click.option(
        "--fit", is_flag=True, help="Letterbox images that are not 640×480 / 480×640."
    )(fn)
    fn = click.option(
        "--envelope",
        type=_Image,
        default=None,
        help="Send this sealed envelope (faceproof envelope make) instead of IMAGES.",
    )(fn)
    return fn


def _capture(images: tuple[Path, ...], envelope: Path | None) -> Any:
    if envelope is not None:
        if images:
            raise click.UsageError("give IMAGES or --envelope, not both")
        return envelope.read_bytes()
    if not images:
        raise click.UsageError("give the capture's IMAGES (main frame first) or --envelope")
    return list(images)


# -- utility ----------------------------------------------------------------------------------
@call.command("face_health")
@click.pass_context
def face_health(ctx: click.Context) -> None:
    """GET /face_health."""
    _run(ctx, lambda fp: fp.health())


@call.command("pub_key")
@click.pass_context
def pub_key(ctx: click.Context) -> None:
    """POST /pub_key: the key captures are sealed for."""
    _run(ctx, lambda fp: fp.pub_key())


@call.command("time")
@click.pass_context
def server_time(ctx: click.Context) -> None:
    """POST /time: the server clock, epoch ms."""
    _run(ctx, lambda fp: {"epoch_ms": fp.server_time()})


@call.command("models")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@click.pass_context
def models(ctx: click.Context, output: str) -> None:
    """POST /models: save the SDK's model bundle to OUTPUT."""

    def fetch(fp: Any) -> dict[str, Any]:
        data = fp.models()
        Path(output).write_bytes(data)
        return {"bytes": len(data), "output": output}

    _run(ctx, fetch)


@call.command("challenge")
@click.pass_context
def challenge(ctx: click.Context) -> None:
    """POST /challenge: a single-use challenge for a challenge-bound capture."""
    _run(ctx, lambda fp: fp.challenge())


# -- captures ---------------------------------------------------------------------------------
@call.command("process")
@click.argument("images", nargs=-1, type=_Image)
@_capture_options
@click.option("--no-quality", is_flag=True, help="enableQuality=false.")
@click.pass_context
def process(
    ctx: click.Context,
    images: tuple[Path, ...],
    envelope: Path | None,
    fit: bool,
    options: tuple[str, ...],
    no_quality: bool,
) -> None:
    """POST /process: seal IMAGES (or send --envelope) and process the capture."""
    capture, opts = _capture(images, envelope), parse_options(options)
    _run(ctx, lambda fp: fp.process(capture, options=opts, enable_quality=not no_quality, fit=fit))


@call.command("secure/face/as")
@click.argument("images", nargs=-1, type=_Image)
@_capture_options
@click.pass_context
def secure_face_as(
    ctx: click.Context,
    images: tuple[Path, ...],
    envelope: Path | None,
    fit: bool,
    options: tuple[str, ...],
) -> None:
    """POST /secure/face/as: liveness of a capture (level: --option asThreshold=…)."""
    capture, opts = _capture(images, envelope), parse_options(options)
    _run(ctx, lambda fp: fp.secure_liveness(capture, options=opts, fit=fit))


@call.command("verifyWithPictureId")
@click.argument("images", nargs=-1, type=_Image)
@click.option("--pic-id", type=_Image, required=True, help="The ID card's portrait.")
@click.option("--level", required=True, type=click.Choice(MATCH_LEVELS))
@_capture_options
@click.pass_context
def verify_with_picture_id(
    ctx: click.Context,
    images: tuple[Path, ...],
    pic_id: Path,
    level: str,
    envelope: Path | None,
    fit: bool,
    options: tuple[str, ...],
) -> None:
    """POST /verifyWithPictureId: capture → liveness → match against --pic-id."""
    capture, opts = _capture(images, envelope), parse_options(options)
    _run(
        ctx,
        lambda fp: fp.verify_with_picture_id(capture, pic_id, level, options=opts, fit=fit),
    )


# -- images -----------------------------------------------------------------------------------
@call.command("face/as")
@click.argument("image", type=_Image)
@click.option("--threshold", required=True, help="Liveness level, e.g. BALANCED_VERY_HIGH.")
@click.pass_context
def face_as(ctx: click.Context, image: Path, threshold: str) -> None:
    """POST /face/as: passive liveness of a third-party IMAGE."""
    _run(ctx, lambda fp: fp.liveness(image, threshold))


@call.command("face/generateTemplateFromImage")
@click.argument("image", type=_Image)
@click.option(
    "--quality-mode",
    type=click.Choice(["ENROL", "VERIFY", "DISABLED"]),
    default="ENROL",
    show_default=True,
)
@click.pass_context
def generate(ctx: click.Context, image: Path, quality_mode: str) -> None:
    """POST /face/generateTemplateFromImage: an embedding template from IMAGE."""
    _run(ctx, lambda fp: fp.generate_template(image, quality_mode))


@call.command("matchWithSelfie")
@click.argument("image", type=_Image)
@click.argument("other", type=_Image)
@click.option("--level", required=True, type=click.Choice(MATCH_LEVELS))
@click.pass_context
def match_with_selfie(ctx: click.Context, image: Path, other: Path, level: str) -> None:
    """POST /matchWithSelfie: IMAGE against OTHER (formats from the files)."""
    _run(ctx, lambda fp: fp.match_with_selfie(image, other, level))


@call.command("matchWithPictureId")
@click.argument("selfie", type=_Image)
@click.argument("portrait", type=_Image)
@click.option("--level", required=True, type=click.Choice(MATCH_LEVELS))
@click.pass_context
def match_with_picture_id(ctx: click.Context, selfie: Path, portrait: Path, level: str) -> None:
    """POST /matchWithPictureId: SELFIE against an ID card's PORTRAIT."""
    _run(ctx, lambda fp: fp.match_with_picture_id(selfie, portrait, level))


# -- 1:N --------------------------------------------------------------------------------------
@call.command("enrol")
@click.argument("gallery")
@click.argument("subject_id")
@click.argument("image", type=_Image, required=False)
@click.option("--template", default=None, help="base64 FACEPROOF_T1 template instead of IMAGE.")
@click.option("--duplicate-level", type=click.Choice(MATCH_LEVELS), default=None)
@click.pass_context
def enrol(
    ctx: click.Context,
    gallery: str,
    subject_id: str,
    image: Path | None,
    template: str | None,
    duplicate_level: str | None,
) -> None:
    """POST /galleries/GALLERY/subjects: enrol SUBJECT_ID from IMAGE (or --template)."""
    _run(
        ctx,
        lambda fp: fp.enrol(
            gallery, subject_id, image=image, template=template, duplicate_level=duplicate_level
        ),
    )


@call.command("subjects")
@click.argument("gallery")
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--limit", type=int, default=100, show_default=True)
@click.pass_context
def subjects(ctx: click.Context, gallery: str, offset: int, limit: int) -> None:
    """GET /galleries/GALLERY/subjects: one page of the gallery's subjects."""
    _run(ctx, lambda fp: fp.subjects(gallery, offset=offset, limit=limit))


@call.command("delete-subject")
@click.argument("gallery")
@click.argument("subject_id")
@click.pass_context
def delete_subject(ctx: click.Context, gallery: str, subject_id: str) -> None:
    """DELETE /galleries/GALLERY/subjects/SUBJECT_ID: erase a subject."""
    _run(ctx, lambda fp: fp.delete_subject(gallery, subject_id))


@call.command("delete-gallery")
@click.argument("gallery")
@click.pass_context
def delete_gallery(ctx: click.Context, gallery: str) -> None:
    """DELETE /galleries/GALLERY: erase a whole gallery."""
    _run(ctx, lambda fp: fp.delete_gallery(gallery))


@call.command("identify")
@click.argument("gallery")
@click.argument("image", type=_Image, required=False)
@click.option("--level", required=True, type=click.Choice(MATCH_LEVELS))
@click.option("--max-results", type=int, default=10, show_default=True)
@click.option("--template", default=None, help="base64 FACEPROOF_T1 template instead of IMAGE.")
@click.option(
    "--capture",
    "capture_images",
    multiple=True,
    type=_Image,
    help="Seal these images as an SDK capture instead (liveness first; repeat).",
)
@click.option("--fit", is_flag=True, help="Letterbox --capture images.")
@click.pass_context
def identify(
    ctx: click.Context,
    gallery: str,
    image: Path | None,
    level: str,
    max_results: int,
    template: str | None,
    capture_images: tuple[Path, ...],
    fit: bool,
) -> None:
    """POST /identify: search GALLERY for IMAGE (or --template, or --capture)."""
    capture = list(capture_images) or None
    _run(
        ctx,
        lambda fp: fp.identify(
            gallery,
            level,
            image=image,
            template=template,
            capture=capture,
            max_results=max_results,
            fit=fit,
        ),
    )
