"""What the identification endpoints call: enrol, identify, erase, list.

Built once per worker (``api/deps.py``). The store is shared by every worker and replica;
each worker keeps an in-memory index per gallery (unless the store searches itself, as
pgvector does) and brings it up to date from the store's change log before every search
and inside every enrolment's write lock, so a subject enrolled or erased through another
worker is seen by the next search here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from faceproof.config import ConfigError, Settings
from faceproof.errors import ApiError, Err
from faceproof.identification.index import ANN_MIN, GalleryIndex
from faceproof.identification.levels import (
    IdentificationCalibration,
    load_identification_calibration,
)
from faceproof.identification.pg_store import PgGalleryStore
from faceproof.identification.sealing import GalleryKeyring, SealError
from faceproof.identification.sqlite_store import SqliteGalleryStore
from faceproof.identification.store import GalleryStore, GalleryWriter, Hit, StoredTemplate
from faceproof.matching.levels import NONE, rank
from faceproof.models.mobilefacenet import require_server_embedding
from faceproof.pipeline.embedding_template import decode_embedding, encode_embedding
from faceproof.storage.postgres import postgres_url

if TYPE_CHECKING:
    from faceproof.matching.matcher import Matcher

log = logging.getLogger("faceproof.identification")
F32 = NDArray[np.float32]


@dataclass(frozen=True)
class Candidate:
    subject: str
    similarity: float
    similarity_score: int
    level_reached: str


@dataclass(frozen=True)
class Enrolled:
    template_id: str
    templates: int  # the subject's templates after this one
    created: bool  # the subject is new


def open_store(url: str | None, data_dir: Path, dim: int) -> GalleryStore:
    """SQLite in the data dir by default; PostgreSQL + pgvector for ``postgresql://`` URLs."""
    pg = postgres_url(url, "FACEPROOF_DATABASE_URL", "galleries")
    if pg is not None:
        return PgGalleryStore(pg, dim)

    return SqliteGalleryStore(data_dir / "galleries.sqlite3")


class IdentificationService:
    def __init__(
        self,
        store: GalleryStore,
        keyring: GalleryKeyring,
        calibration: IdentificationCalibration,
        model_id: str,
        model_digest: bytes,
        dim: int,
        matcher: Matcher | None = None,
        ann_min: int = ANN_MIN,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.calibration = calibration
        self.model_id = model_id
        self.model_digest = model_digest
        self.dim = dim
        self.matcher = matcher
        self.ann_min = ann_min
        self.rejected: set[str] = set()  # template ids that failed to open (tamper/key)
        self._indexes: dict[str, GalleryIndex] = {}
        # Always taken before the store's own lock (enrolment holds both): one lock order.
        self._sync_lock = threading.RLock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        model_id: str,
        model_digest: bytes,
        dim: int,
        matcher: Matcher | None,
    ) -> IdentificationService:
        calibration = load_identification_calibration(settings.identification_calibration_path)
        expected = calibration.model.get("sha256")
        if settings.require_models and expected and expected != model_digest.hex():
            raise ConfigError(
                "identification calibration was made for another embedder: "
                "run `faceproof calibrate --identification`"
            )
        require_server_embedding(
            calibration.model, "identification", "run `faceproof calibrate --identification`"
        )
        # Beside the envelope keys: replicas share both (one mounted secret, read-only).
        keyring = GalleryKeyring.open(settings.keys_path, read_only=settings.keys_read_only)
        store = open_store(settings.database_url, settings.data_dir, dim)
        return cls(store, keyring, calibration, model_id, model_digest, dim, matcher)

    def preload(self) -> threading.Thread | None:
        """Load every gallery's index in the background, so a worker's first search of a
        large gallery does not pay for opening all its rows (searches wait for nothing:
        one that comes first loads its gallery itself)."""
        galleries = getattr(self.store, "galleries", None)
        if self.store.searches_itself or galleries is None:
            return None

        def run() -> None:
            for gallery in galleries():
                try:
                    self.sync(gallery)
                except Exception as exc:  # logged by type only; searches retry on their own
                    log.warning(
                        "gallery preload failed",
                        extra={"event": "gallery_preload_failed", "error_type": type(exc).__name__},
                    )

        thread = threading.Thread(target=run, name="gallery-preload", daemon=True)
        thread.start()
        return thread

    # -- templates -------------------------------------------------------------------------
    def template_bytes(self, vector: F32, quality: int) -> bytes:
        return encode_embedding(vector, self.model_id, self.model_digest, int(quality))

    def vector_of_template(self, data: bytes, field: str = "/template") -> tuple[F32, int]:
        """A FACEPROOF_T1 template from a client: checked against our model (504 if not)."""
        t = decode_embedding(data, self.model_id, self.model_digest, field, self.dim)
        return _unit(t.vector), t.quality

    def _open(self, gallery: str, t: StoredTemplate) -> F32 | None:
        try:
            plain = self.keyring.open_sealed(t.kid, t.sealed, gallery, t.subject, t.template_id)
            emb = decode_embedding(plain, self.model_id, self.model_digest, expected_dim=self.dim)
        except (SealError, ApiError) as exc:
            if t.template_id not in self.rejected:
                log.error(
                    "gallery template rejected",
                    extra={
                        "event": "gallery_template_rejected",
                        "gallery": gallery,
                        "template_id": t.template_id,
                        "reason": type(exc).__name__,
                    },
                )
            self.rejected.add(t.template_id)
            return None
        return _unit(emb.vector)

    # -- index -----------------------------------------------------------------------------
    def _load(self, gallery: str, templates: list[StoredTemplate], index: GalleryIndex) -> None:
        ids, subjects, vectors = [], [], []
        for t in templates:
            v = self._open(gallery, t)
            if v is not None:
                ids.append(t.template_id)
                subjects.append(t.subject)
                vectors.append(v)
        if ids:
            index.add(ids, subjects, np.stack(vectors))

    def _fresh_index(self, gallery: str) -> GalleryIndex:
        index = GalleryIndex(self.dim, ann_min=self.ann_min)
        index.version = self.store.version(gallery)  # before the rows: replays are harmless
        self._load(gallery, [t for _, t in self.store.all_templates(gallery)], index)
        return index

    def sync(self, gallery: str, writer: GalleryWriter | None = None) -> GalleryIndex:
        """The gallery's index, brought up to the store's current version.

        Inside an enrolment's write lock ``writer`` reads the change log in that same
        transaction, so the duplicate check sees every committed enrolment.
        """
        with self._sync_lock:
            index = self._indexes.get(gallery)
            if index is None:
                index = self._indexes[gallery] = self._fresh_index(gallery)
            if writer is None:
                if self.store.version(gallery) == index.version:
                    return index
                changes = self.store.changes(gallery, index.version)
            else:
                changes = writer.changes(index.version)
            if changes.reset:
                index = self._indexes[gallery] = self._fresh_index(gallery)
                return index
            index.remove(changes.removed)
            self._load(gallery, changes.added, index)
            index.version = max(index.version, changes.version)
            return index

    # -- operations ------------------------------------------------------------------------
    def _candidates(self, hits: list[Hit], n: int, gallery: str) -> list[Candidate]:
        out = []
        for h in hits:
            if h.stored is not None and self._open(gallery, h.stored) is None:
                continue  # the system of record does not vouch for this row: never answer it
            reached = self.calibration.level_reached(h.similarity, n)
            if reached == NONE:
                continue  # below every level: noise, and not the caller's to see
            score = (
                self.matcher.decide(h.similarity, "selfie", "LOW").similarity_score
                if self.matcher is not None
                else 0
            )
            out.append(Candidate(h.subject, h.similarity, score, reached))
        return out

    def size(self, gallery: str) -> int:
        """Templates searchable in ``gallery`` now (0: no such gallery). Loads the index."""
        if self.store.searches_itself:
            return self.store.count(gallery)
        return len(self.sync(gallery))

    def identify(self, gallery: str, vector: F32, k: int) -> tuple[int, list[Candidate]]:
        """(gallery size N, candidates reaching at least LOW for that N, best first)."""
        q = _unit(vector)
        if self.store.searches_itself:
            n = self.store.count(gallery)
            hits = self.store.search(gallery, q, k) if n else []
        else:
            index = self.sync(gallery)
            n = len(index)
            hits = index.search(q, k)
        if n == 0:
            if not self.store.searches_itself and self.store.count(gallery):
                # Rows exist but none opens: wrong key or tampered store. Never answer
                # "not found" (or an empty search) for an integrity failure.
                raise ApiError(Err.SERVER_INTERNAL, "gallery templates could not be opened")
            raise ApiError(Err.GALLERY_NOT_FOUND)
        return n, self._candidates(hits, n, gallery)

    def enrol(
        self,
        gallery: str,
        subject: str,
        vector: F32,
        quality: int,
        duplicate_level: str | None = None,
    ) -> Enrolled:
        q = _unit(vector)
        plain = self.template_bytes(q, quality)
        own_index = not self.store.searches_itself
        with (
            self._sync_lock if own_index else contextlib.nullcontext(),
            self.store.writing(gallery) as w,
        ):
            if duplicate_level is not None:
                self._refuse_duplicate(gallery, subject, q, duplicate_level, w)
            before = w.templates_of(subject)
            tid = uuid.uuid4().hex
            sealed = self.keyring.seal(plain, gallery, subject, tid)
            w.add(
                StoredTemplate(tid, subject, self.keyring.current, sealed, int(time.time() * 1000)),
                q,
            )
        if not self.store.searches_itself:
            self.sync(gallery)
        return Enrolled(tid, before + 1, before == 0)

    def _refuse_duplicate(
        self, gallery: str, subject: str, q: F32, level: str, w: GalleryWriter
    ) -> None:
        hits = w.search(q, 2)
        if hits is None:
            index = self.sync(gallery, writer=w)
            hits, n = index.search(q, 2), len(index)
        else:
            n = self.store.count(gallery)
        for c in self._candidates([h for h in hits if h.subject != subject], max(n, 1), gallery):
            if rank(c.level_reached) >= rank(level):
                raise ApiError(
                    Err.DUPLICATE_SUBJECT,
                    data={
                        "subjectId": c.subject,
                        "similarityScore": c.similarity_score,
                        "level": c.level_reached,
                    },
                )

    def delete_subject(self, gallery: str, subject: str) -> int:
        with self.store.writing(gallery) as w:
            n = w.delete_subject(subject)
        if n == 0:
            raise ApiError(Err.SUBJECT_NOT_FOUND)
        if not self.store.searches_itself:
            self.sync(gallery)
        return n

    def delete_gallery(self, gallery: str) -> int:
        with self.store.writing(gallery) as w:
            n = w.delete_gallery()
        with self._sync_lock:
            self._indexes.pop(gallery, None)
        if n == 0:
            raise ApiError(Err.GALLERY_NOT_FOUND)
        return n

    def reseal(self) -> int:
        """Re-encrypt every row under the current key (after a rotation); returns rows moved."""
        moved = 0
        for gallery, t in list(self.store.all_templates()):
            if t.kid == self.keyring.current:
                continue
            plain = self.keyring.open_sealed(t.kid, t.sealed, gallery, t.subject, t.template_id)
            sealed = self.keyring.seal(plain, gallery, t.subject, t.template_id)
            self.store.replace_sealed(t.template_id, self.keyring.current, sealed)
            moved += 1
        return moved

    def close(self) -> None:
        self.store.close()


def _unit(v: F32) -> F32:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
