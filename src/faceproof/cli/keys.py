"""``faceproof keys``: inspect and rotate the deployment's envelope keys.

Keys live in ``<data_dir>/keys``; running workers notice a rotation on their next request
(they re-read the key index when it changes), so no restart is needed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from faceproof.config import ConfigError, load_settings
from faceproof.crypto.keystore import KeyStore


def _settings() -> Any:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def open_store(data_dir: Path | None, *, create: bool = True) -> KeyStore:
    """The key store under ``data_dir``, else the configured one (``FACEPROOF_KEYS_DIR``,
    read-only with ``FACEPROOF_KEYS_READ_ONLY``, or ``<data_dir>/keys``)."""
    settings = _settings()
    read_only = data_dir is None and settings.keys_read_only
    path = Path(data_dir) / "keys" if data_dir is not None else settings.keys_path
    try:
        return KeyStore.open(
            path,
            bits=settings.rsa_key_bits,
            grace_seconds=settings.key_grace_seconds,
            create=create,
            read_only=read_only,
        )
    except (OSError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None


def data_dir_option(func: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="faceproof data directory (default: FACEPROOF_DATA_DIR); keys are in <dir>/keys.",
    )(func)


def _iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@click.group("keys")
def keys() -> None:
    """Envelope key pairs: list, show the public key, rotate."""


@keys.command("rotate")
@data_dir_option
def rotate(data_dir: Path | None) -> None:
    """Make a new current key; the previous one still decrypts during the grace period."""
    store = open_store(data_dir, create=False)
    try:
        click.echo(store.rotate())
    except PermissionError as exc:
        raise click.ClickException(str(exc)) from None


@keys.command("list")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_keys(data_dir: Path | None, as_json: bool) -> None:
    """List stored keys with their state (current, in grace until …)."""
    store = open_store(data_dir)
    infos = store.keys()
    if as_json:
        click.echo(json.dumps(store.describe(), indent=2))
        return
    now = time.time()
    for info in infos:
        if info.current:
            state = "current"
        elif info.retired_at is not None:
            until = info.retired_at + store.grace_seconds
            state = f"grace until {_iso(until)}" if until > now else "expired"
        else:
            state = "inactive"
        click.echo(f"{info.kid}  {info.bits}  created {_iso(info.created_at)}  {state}")


@keys.command("show")
@data_dir_option
@click.option("--spki", is_flag=True, help="Print base64 DER SubjectPublicKeyInfo instead.")
def show(data_dir: Path | None, spki: bool) -> None:
    """Print the current public key (JWK, as served by /api/v1/pub_key)."""
    store = open_store(data_dir)
    click.echo(store.public_spki_b64() if spki else json.dumps(store.public_jwk(), indent=2))
