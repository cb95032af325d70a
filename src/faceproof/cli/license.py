"""``faceproof license``: operator key pair, license tokens, and a ``lic_config.json`` check.

Registered on the main ``faceproof`` group by ``faceproof.cli`` (as ``license_group``; the
module-level name ``license`` would shadow the builtin).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from faceproof.config import ConfigError, load_settings
from faceproof.license import (
    LicenseError,
    generate_keypair,
    issue_token,
    load_deployment,
    load_private_key,
    public_key_b64,
)

PRIVATE_NAME = "license_ed25519.key"
PUBLIC_NAME = "license_ed25519.pub"


def _write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Create ``path`` with ``mode`` from the start (no window where a key is world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; use --force to replace it") from None
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)  # O_TRUNC keeps an old file's mode
        fh.write(data)


@click.group("license")
def license_group() -> None:
    """Operator-signed license tokens for lic_config.json (optional; see docs/license.md)."""


@license_group.command("keygen")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the key pair (created 0700 if missing).",
)
@click.option("--force", is_flag=True, help="Replace an existing key pair.")
def keygen(out_dir: Path, force: bool) -> None:
    """Create an Ed25519 key pair: the private key (0600) signs, the public key verifies."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_pem, public_pem = generate_keypair()
    _write_new(out_dir / PRIVATE_NAME, private_pem, 0o600, force)
    _write_new(out_dir / PUBLIC_NAME, public_pem, 0o644, force)
    pub = load_private_key(private_pem).public_key()
    click.echo(f"private key: {out_dir / PRIVATE_NAME} (keep it offline)", err=True)
    click.echo(f"public key:  {out_dir / PUBLIC_NAME}", err=True)
    click.echo(f"FACEPROOF_LICENSE_PUBLIC_KEY={public_key_b64(pub)}")


@license_group.command("issue")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The private key from `faceproof license keygen`.",
)
@click.option("--domains", required=True, help="Comma-separated domains, e.g. a.com,b.com.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=365.0)
@click.option("--sub", default=None, help="Deployment name (default: the first domain).")
@click.option("--iss", default="faceproof", show_default=True, help="Issuer name.")
@click.option("--feature", "features", multiple=True, help="A feature flag (repeatable).")
def issue(
    key_path: Path,
    domains: str,
    days: float,
    sub: str | None,
    iss: str,
    features: tuple[str, ...],
) -> None:
    """Print a license token for lic_config.json's "license" field."""
    names = [d.strip() for d in domains.split(",") if d.strip()]
    if not names:
        raise click.BadParameter("give at least one domain", param_hint="--domains")
    try:
        key = load_private_key(key_path.read_bytes())
        token = issue_token(key, names, days, sub=sub or names[0], iss=iss, features=features)
    except LicenseError as exc:
        raise click.ClickException(f"cannot issue: {exc}") from None
    click.echo(token)


@license_group.command("check")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="lic_config.json to check (default: SERVER_CONFIG_PATH).",
)
def check(config_path: Path | None) -> None:
    """Validate lic_config.json as the server would at start-up, and show the result."""
    try:
        settings = load_settings()
        deployment = load_deployment(config_path or settings.server_config_path, settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"source:  {deployment.source}")
    click.echo(f"domains: {', '.join(sorted(deployment.domains))}")
    lic = deployment.license
    if lic is None:
        click.echo("license: OPEN (no token; unrestricted)")
    else:
        click.echo(f"license: {lic.sub} (issuer {lic.iss}) expires {lic.expires}")
        if lic.features:
            click.echo(f"features: {', '.join(sorted(lic.features))}")
