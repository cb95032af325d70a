"""Labelled image folders for calibration, training and evaluation.

Which files count as images, and the one digest that names a data set in a calibration file,
so that an evaluation can tell whether it runs on the data the thresholds were fitted on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
DIGEST_METHOD = "sha256 over sorted 'relative_path<TAB>sha1(file)' lines"


def is_image(path: Path) -> bool:
    """A regular file with an image suffix (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def image_files(folder: Path, *, recursive: bool = True) -> list[Path]:
    """The images under ``folder`` (in its sub-folders too unless ``recursive=False``), sorted."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if is_image(p))


def data_digest(entries: Iterable[tuple[str, Path]]) -> str:
    """``sha256:`` over the sorted ``key<TAB>sha1(file)`` lines of ``(key, file)`` entries.

    The key carries the labels (a path relative to the data root names the identity folder;
    a liveness sample's key is its label, attack type and source), the file hash the content.
    SHA-1 here fingerprints data, it protects nothing.
    """
    lines = sorted(
        f"{key}\t{hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()}\n"
        for key, path in entries
    )
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
    return "sha256:" + h.hexdigest()


def folder_digest(root: Path, relpaths: Iterable[str]) -> str:
    """:func:`data_digest` of files given by their path relative to ``root`` (the key)."""
    return data_digest((rel, root / rel) for rel in relpaths)
