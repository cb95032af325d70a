"""Replicas sharing one deployment key from a read-only directory (a mounted secret)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from faceproof.config import ConfigError, Settings
from faceproof.crypto.keystore import KeyStore


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()}


def make_keys(directory: Path) -> str:
    """Keys made where they are managed (an operator's machine), as the docs say."""
    return KeyStore.open(directory).current_kid


def test_read_only_store_opens_uses_and_never_writes(tmp_path: Path) -> None:
    made = tmp_path / "made"
    kid = make_keys(made)
    mounted = tmp_path / "secret"
    mounted.mkdir()
    for f in made.iterdir():  # what a Secret holds: index.json and <kid>.pem, no lock file
        if f.name != ".lock":
            shutil.copy(f, mounted / f.name)
    before = snapshot(mounted)
    store = KeyStore.open(mounted, read_only=True)
    assert store.current_kid == kid and store.private_key_for(kid) is not None
    assert store.public_jwk()["kid"] == kid
    with pytest.raises(PermissionError, match="read-only"):
        store.rotate()
    assert snapshot(mounted) == before  # nothing created, locked or rewritten


def test_updated_secret_is_picked_up_like_a_rotation(tmp_path: Path) -> None:
    made = tmp_path / "made"
    old = make_keys(made)
    store = KeyStore.open(made, read_only=True)
    new = KeyStore.open(made).rotate()  # the operator rotates where the keys are made
    assert store.current_kid == new and store.private_key_for(old) is not None  # grace


def test_read_only_without_keys_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no index\.json"):
        KeyStore.open(tmp_path, read_only=True)
    made = tmp_path / "made"
    kid = make_keys(made)
    os.unlink(made / f"{kid}.pem")
    with pytest.raises(LookupError, match="current key"):
        KeyStore.open(made, read_only=True)


def test_two_replicas_serve_the_same_mounted_key(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from faceproof.api.app import create_app

    shared = tmp_path / "secret"
    kid = make_keys(shared)
    kids = []
    for name in ("replica-a", "replica-b"):
        settings = make_settings(data_dir=tmp_path / name, keys_dir=shared, keys_read_only=True)
        with TestClient(create_app(settings)) as c:
            kids.append(c.get("/api/v1/face_health").json()["kid"])
        assert not (tmp_path / name / "keys").exists()
    assert kids == [kid, kid]
    with pytest.raises(ConfigError, match="deployment keys"):
        create_app(make_settings(keys_dir=tmp_path / "empty", keys_read_only=True))


def test_cli_lists_a_read_only_store_and_refuses_to_rotate_it(tmp_path: Path) -> None:
    from faceproof.cli import main

    shared = tmp_path / "secret"
    kid = make_keys(shared)
    env = {"FACEPROOF_KEYS_DIR": str(shared), "FACEPROOF_KEYS_READ_ONLY": "true"}
    listed = CliRunner().invoke(main, ["keys", "list"], env=env)
    assert listed.exit_code == 0 and kid in listed.output
    rotated = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 1 and "read-only" in rotated.output


def test_gallery_key_commands_follow_the_key_dir(tmp_path: Path) -> None:
    from faceproof.cli import main
    from faceproof.identification.sealing import KEY_FILE, GalleryKeyring

    keys = tmp_path / "made"
    env = {"FACEPROOF_KEYS_DIR": str(keys), "FACEPROOF_DATA_DIR": str(tmp_path / "data")}
    made = CliRunner().invoke(main, ["gallery", "rotate-key"], env=env)
    assert made.exit_code == 0, made.output
    kid = GalleryKeyring.open(keys, read_only=True).current
    assert kid in made.output and (keys / KEY_FILE).is_file()
    assert not (tmp_path / "data" / "keys").exists()
    refused = CliRunner().invoke(
        main, ["gallery", "rotate-key"], env={**env, "FACEPROOF_KEYS_READ_ONLY": "true"}
    )
    assert refused.exit_code == 1 and "read-only" in refused.output
    assert GalleryKeyring.open(keys, read_only=True).kids == [kid]
