"""Private locations: the server's data dir (0700) and the developer caches of face data
(0700 directory, 0600 files, nothing another user can plant or redirect)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from faceproof.api.deps import prepare_data_dir
from faceproof.config import ConfigError
from faceproof.matching.dataset import EmbeddedSet, load_cached, save_cached
from faceproof.private_cache import (
    PrivateCacheError,
    open_private,
    resolve_cache_path,
    user_cache_dir,
    write_private,
)

posix_only = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX ownership")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def other_uid() -> int:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    return 54321


# -- the server's data dir ---------------------------------------------------------------------


@posix_only
def test_data_dir_is_created_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        prepare_data_dir(tmp_path / "a" / "data")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a" / "data") == 0o700


@posix_only
def test_loose_existing_data_dir_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)
    with caplog.at_level(logging.WARNING, logger="faceproof"):
        prepare_data_dir(data)
    assert mode(data) == 0o700
    assert any("tightened to 0700" in r.getMessage() for r in caplog.records)
    caplog.clear()
    prepare_data_dir(data)  # already private: silent
    assert not caplog.records


@posix_only
def test_data_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, other_uid(), -1)
    with pytest.raises(ConfigError, match="owned by uid 54321"):
        prepare_data_dir(data)


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(ConfigError, match="data dir"):
        prepare_data_dir(tmp_path / "data")


@posix_only
def test_the_app_creates_its_data_dir_private(make_settings: object, tmp_path: Path) -> None:
    from faceproof.api.app import create_app

    create_app(make_settings())  # type: ignore[operator]
    assert mode(tmp_path / "data") == 0o700


# -- developer caches --------------------------------------------------------------------------


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@posix_only
def test_bare_cache_name_goes_to_a_private_per_user_directory(cache_home: Path) -> None:
    old = os.umask(0o022)
    try:
        path = resolve_cache_path(Path("lfw.npz"))
    finally:
        os.umask(old)
    assert path == cache_home / "faceproof" / "lfw.npz"
    assert mode(cache_home / "faceproof") == 0o700
    os.chmod(cache_home / "faceproof", 0o755)
    user_cache_dir()
    assert mode(cache_home / "faceproof") == 0o700


@posix_only
def test_shared_directories_are_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    with pytest.raises(PrivateCacheError, match="shared"):
        resolve_cache_path(shared / "lfw.npz")
    with pytest.raises(PrivateCacheError):
        write_private(shared / "x.bin", lambda f: f.write(b"x"))


@posix_only
def test_cache_directory_of_another_user_is_refused(cache_home: Path) -> None:
    planted = cache_home / "faceproof"
    planted.mkdir(parents=True, mode=0o700)
    os.chown(planted, other_uid(), -1)
    with pytest.raises(PrivateCacheError, match="uid 54321"):
        user_cache_dir()


@posix_only
def test_files_are_written_0600_whatever_the_umask(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir(mode=0o700)
    old = os.umask(0)
    try:
        write_private(d / "x.bin", lambda f: f.write(b"secret"))
    finally:
        os.umask(old)
    assert mode(d / "x.bin") == 0o600
    assert sorted(p.name for p in d.iterdir()) == ["x.bin"]  # no temporary left behind


@posix_only
def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    (d / "x.bin").symlink_to(victim)
    with pytest.raises(PrivateCacheError):
        open_private(d / "x.bin")  # never read through a link
    write_private(d / "x.bin", lambda f: f.write(b"cache"))
    assert victim.read_bytes() == b"untouched"
    assert not (d / "x.bin").is_symlink() and (d / "x.bin").read_bytes() == b"cache"


@posix_only
def test_cache_files_others_could_write_are_refused_and_readable_ones_tightened(
    tmp_path: Path,
) -> None:
    d = tmp_path / "mine"
    d.mkdir(mode=0o700)
    f = d / "x.bin"
    f.write_bytes(b"data")
    os.chmod(f, 0o666)
    with pytest.raises(PrivateCacheError, match="delete it"):
        open_private(f)
    os.chmod(f, 0o644)
    handle = open_private(f)
    assert handle is not None
    with handle:
        assert handle.read() == b"data"
    assert mode(f) == 0o600
    assert open_private(d / "absent.bin") is None


@posix_only
def test_cache_file_of_another_user_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir(mode=0o700)
    f = d / "x.bin"
    f.write_bytes(b"data")
    os.chmod(f, 0o600)
    os.chown(f, other_uid(), -1)
    with pytest.raises(PrivateCacheError, match="not written by this user"):
        open_private(f)


@posix_only
def test_embedding_cache_round_trip_is_private(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir(mode=0o700)
    root = tmp_path / "imgs"
    (root / "A").mkdir(parents=True)
    (root / "A" / "a.jpg").write_bytes(b"not really a jpeg")
    data = EmbeddedSet(
        ["A/a.jpg"],
        np.ones((1, 4), dtype=np.float32),
        np.ones(1, dtype=bool),
        None,
        None,
    )
    old = os.umask(0o022)
    try:
        save_cached(d / "e.npz", "k", root, data)
    finally:
        os.umask(old)
    assert mode(d / "e.npz") == 0o600
    back = load_cached(d / "e.npz", "k", root, ["A/a.jpg"])
    assert back is not None and np.array_equal(back.selfie, data.selfie)
    assert load_cached(d / "e.npz", "other-key", root, ["A/a.jpg"]) is None
