"""Private per-user files for developer caches that hold face data (embeddings, cues).

Such caches must be readable by their user only and must not be pre-creatable by anyone
else: a file another user planted at a shared path (``/tmp/x.npz``) would be read as ours,
and a symlink planted there would redirect our write. So:

* a bare file name goes into ``$XDG_CACHE_HOME/faceproof`` (else ``~/.cache/faceproof``),
  created 0700;
* any directory a cache file goes into must be owned by this user and writable by no one
  else (``/tmp`` is refused);
* files are written 0600 through a fresh temporary file renamed into place (never through
  an existing path, so a planted symlink is replaced, not followed), and read only when
  they belong to this user and nobody else can write them.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

APP = "faceproof"


class PrivateCacheError(ValueError):
    """A cache location that is not private to this user; the message says how to fix it."""


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def user_cache_dir() -> Path:
    """This user's cache directory for faceproof, created 0700 and checked private."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    path = root / APP
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    uid = _uid()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise PrivateCacheError(f"{path} is not a plain directory")
    if uid is not None and st.st_uid != uid:
        raise PrivateCacheError(f"{path} belongs to uid {st.st_uid}, not to this user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def resolve_cache_path(value: Path) -> Path:
    """Where a cache named ``value`` lives: a bare name in ``user_cache_dir()``, a path as
    given once its directory is checked private (``check_private_dir``)."""
    if value.parent == Path("."):
        return user_cache_dir() / value.name
    path = value.expanduser().absolute()
    check_private_dir(path.parent)
    return path


def check_private_dir(path: Path) -> None:
    """The directory is ours and no one else can create or replace files in it."""
    try:
        st = path.stat()
    except OSError as exc:
        raise PrivateCacheError(f"cache directory {path}: {exc.strerror}") from None
    uid = _uid()
    if uid is None:
        return
    if st.st_uid != uid or stat.S_IMODE(st.st_mode) & 0o022:
        raise PrivateCacheError(
            f"cache directory {path} is shared (owner uid {st.st_uid}, mode "
            f"{stat.S_IMODE(st.st_mode):o}): another user could plant or replace the file; "
            f"give a bare file name (kept in {APP}'s private cache directory, "
            "$XDG_CACHE_HOME/faceproof or ~/.cache/faceproof) or a directory of your own, "
            "mode 0700"
        )


def open_private(path: Path) -> IO[bytes] | None:
    """``path`` opened for reading when it is a cache of ours, None when it does not exist.

    Refused (PrivateCacheError): a symlink, another user's file, a file others may write.
    A file of ours that others may only read is tightened to 0600 with a warning.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PrivateCacheError(f"cache {path}: {exc.strerror}") from None
    f = os.fdopen(fd, "rb")
    try:
        st = os.fstat(fd)
        uid = _uid()
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            raise PrivateCacheError(f"cache {path} is not a regular file")
        if uid is not None and (st.st_uid != uid or mode & 0o022):
            raise PrivateCacheError(
                f"cache {path} was not written by this user privately (owner uid "
                f"{st.st_uid}, mode {mode:o}); delete it"
            )
        if mode & 0o077:
            os.fchmod(fd, 0o600)
            log.warning("cache %s was mode %o; tightened to 0600", path, mode)
    except BaseException:
        f.close()
        raise
    return f


def write_private(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` 0600 through a new temporary file in its (checked) directory."""
    check_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
