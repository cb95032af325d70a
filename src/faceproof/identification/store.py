"""What a gallery store keeps and the interface every backend implements.

A store keeps, per gallery, the enrolled templates **sealed** (``sealing``) with the id of the
key that sealed them, and a change log: every enrolment and erasure gets a sequence number,
so the highest one is the gallery's version. A worker's in-memory index remembers the version
it reflects and, before each search, asks the store for it (one indexed lookup); when another
worker changed the gallery it applies just the changes since (``changes``), or reloads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

GALLERY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SUBJECT_RE = re.compile(r"^[A-Za-z0-9_.@:+=-]{1,128}$")


@dataclass(frozen=True)
class StoredTemplate:
    template_id: str  # random, 32 hex digits
    subject: str
    kid: str  # the gallery key that sealed it
    sealed: bytes  # nonce || AES-GCM(FACEPROOF_T1 bytes) || tag
    created_ms: int = 0


@dataclass
class ChangeSet:
    version: int
    added: list[StoredTemplate] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # template ids
    reset: bool = False  # the gallery was dropped (and maybe re-created): start again


@dataclass(frozen=True)
class SubjectInfo:
    subject: str
    templates: int
    created_ms: int  # first enrolment


@dataclass(frozen=True)
class Hit:
    template_id: str
    subject: str
    similarity: float
    stored: StoredTemplate | None = None  # stores that search themselves return the row


class GalleryWriter(Protocol):
    """Changes to one gallery inside the store's per-gallery write lock (one transaction)."""

    def add(self, template: StoredTemplate, vector: NDArray[np.float32]) -> None: ...

    def delete_subject(self, subject: str) -> int:
        """Erase every template of ``subject``; returns how many there were."""
        ...

    def delete_gallery(self) -> int: ...

    def templates_of(self, subject: str) -> int: ...

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit] | None:
        """The store's own search inside the lock, or None when it has none (SQLite)."""
        ...

    def changes(self, since: int) -> ChangeSet: ...


class GalleryStore(Protocol):
    """Subjects and sealed templates of every gallery, shared by all workers."""

    #: True when the store searches itself (pgvector); else the worker keeps an index.
    searches_itself: bool

    def version(self, gallery: str) -> int:
        """Highest change number of ``gallery`` (0 when it never existed)."""
        ...

    def changes(self, gallery: str, since: int) -> ChangeSet: ...

    def count(self, gallery: str) -> int:
        """Templates in the gallery (the N of its FPIR levels)."""
        ...

    def subjects(self, gallery: str, offset: int, limit: int) -> tuple[int, list[SubjectInfo]]:
        """(number of subjects, one page of them in subjectId order)."""
        ...

    def writing(self, gallery: str) -> AbstractContextManager[GalleryWriter]:
        """Exclusive write access to ``gallery`` across workers and replicas."""
        ...

    def search(self, gallery: str, vector: NDArray[np.float32], k: int) -> list[Hit]:
        """Only for ``searches_itself`` stores."""
        ...

    def all_templates(self, gallery: str | None = None) -> Iterator[tuple[str, StoredTemplate]]:
        """(gallery, template) of every row (``reseal`` and exports)."""
        ...

    def replace_sealed(self, template_id: str, kid: str, sealed: bytes) -> None: ...

    def health(self) -> str | None: ...

    def close(self) -> None: ...
