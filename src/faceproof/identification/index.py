"""The per-worker search index of one gallery: exact below a size, HNSW (faiss) above.

Vectors are L2-normalised, so inner product = cosine similarity. Below ``ann_min`` templates
the search is an exact matrix product (NumPy, a few ms for tens of thousands); from
``ann_min`` on, an HNSW graph (``faiss.IndexHNSWFlat``, inner product) answers in about a
millisecond at a million templates, its recall against exact search measured by
``bench/identification.py``.

Erasure is real here too: an erased template leaves the exact matrix at once; in the HNSW
graph (which cannot drop a node) its vector is overwritten with zeros in place and the node
is never returned, and the graph is rebuilt once erased nodes pass a fifth of it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.identification.store import Hit

F32 = NDArray[np.float32]
ANN_MIN = 50_000  # templates from which the gallery is searched with HNSW
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# efSearch by gallery size: recall@10 vs exact >= 0.99 on LFW-like vectors
# (bench/identification.py: 0.993 at 100 000 with 256, 0.993 at 1 000 000 with 1024).
HNSW_EF_SEARCH = 256
HNSW_EF_SEARCH_LARGE = 1024
LARGE = 300_000
REBUILD_FRACTION = 0.2


@dataclass
class _Rows:
    ids: list[str]
    subjects: list[str]


class GalleryIndex:
    """Template vectors of one gallery and who they belong to; thread-safe."""

    def __init__(self, dim: int, ann_min: int = ANN_MIN, ef_search: int | None = None) -> None:
        self.dim = dim
        self.ann_min = ann_min
        self.ef_search = ef_search
        self.version = 0
        self._lock = threading.Lock()
        self._buf = np.zeros((0, dim), dtype=np.float32)  # exact mode's rows (grows by doubling)
        self._n = 0
        self._rows = _Rows([], [])
        self._where: dict[str, int] = {}  # template id -> row
        self._dead: set[int] = set()  # rows erased but still in the HNSW graph
        self._hnsw: Any = None  # faiss.IndexHNSWFlat (faiss ships no type hints)

    def __len__(self) -> int:
        return len(self._where)

    @property
    def uses_ann(self) -> bool:
        return self._hnsw is not None

    # -- changes -----------------------------------------------------------------------------
    def add(self, ids: list[str], subjects: list[str], vectors: F32) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            fresh = [i for i, t in enumerate(ids) if t not in self._where]
            if not fresh:
                return
            start = len(self._rows.ids)
            self._rows.ids += [ids[i] for i in fresh]
            self._rows.subjects += [subjects[i] for i in fresh]
            block = vectors[fresh]
            for j, i in enumerate(fresh):
                self._where[ids[i]] = start + j
            if self._hnsw is not None:
                self._hnsw.add(block)  # the graph keeps the only copy of the vectors
                return
            self._append(block)
            if len(self._where) >= self.ann_min:
                self._build_hnsw(self._vectors)

    def _append(self, block: F32) -> None:
        """Exact mode: rows go into a buffer that doubles, so an enrolment costs O(d)."""
        n, m = self._n, len(block)
        if n + m > len(self._buf):
            grown = np.zeros((max(2 * len(self._buf), n + m, 1024), self.dim), np.float32)
            grown[:n] = self._buf[:n]
            self._buf = grown
        self._buf[n : n + m] = block
        self._n = n + m

    @property
    def _vectors(self) -> F32:
        if self._hnsw is not None:
            return self._graph_vectors()
        return self._buf[: self._n]

    def remove(self, ids: list[str]) -> None:
        with self._lock:
            rows = [self._where.pop(t) for t in ids if t in self._where]
            if not rows:
                return
            self._vectors[rows] = 0.0  # overwritten in place, in either mode
            if self._hnsw is not None:
                self._dead.update(rows)
                if len(self._dead) > REBUILD_FRACTION * len(self._rows.ids):
                    self._compact()
            else:
                self._compact()

    def _compact(self) -> None:
        """Drop erased rows for good (exact mode always; HNSW by a rebuild)."""
        keep = sorted(self._where.values())
        kept = self._vectors[keep].copy()
        self._rows = _Rows(
            [self._rows.ids[i] for i in keep], [self._rows.subjects[i] for i in keep]
        )
        self._where = {t: i for i, t in enumerate(self._rows.ids)}
        self._dead.clear()
        self._hnsw = None
        self._buf, self._n = np.zeros((0, self.dim), np.float32), 0
        if len(self._where) >= self.ann_min:
            self._build_hnsw(kept)
        else:
            self._append(kept)

    def _build_hnsw(self, vectors: F32) -> None:
        # lazy: faiss (~0.7 s) only once a gallery is large enough for the HNSW index
        import faiss

        index = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        index.add(np.ascontiguousarray(vectors))
        self._hnsw = index
        self._buf, self._n = np.zeros((0, self.dim), np.float32), 0

    def _graph_vectors(self) -> F32:
        """A writable view of the vectors inside faiss's own storage."""
        # lazy: faiss (~0.7 s) only once a gallery is large enough for the HNSW index
        import faiss

        storage: Any = faiss.downcast_index(self._hnsw.storage)
        n = storage.ntotal
        return np.asarray(faiss.rev_swig_ptr(storage.get_xb(), n * self.dim)).reshape(n, self.dim)

    # -- search ------------------------------------------------------------------------------
    def search(self, vector: F32, k: int) -> list[Hit]:
        """The ``k`` best subjects (each by its best template), best first."""
        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        with self._lock:
            n = len(self._where)
            if n == 0:
                return []
            # A subject may own several templates: look further than k, then group.
            want = min(len(self._rows.ids), max(4 * k, k + 16))
            if self._hnsw is None:
                sims = self._vectors @ q[0]
                top = np.argpartition(-sims, want - 1)[:want] if want < len(sims) else None
                rows = np.arange(len(sims)) if top is None else top
                pairs = [(float(sims[r]), int(r)) for r in rows]
            else:
                # lazy: faiss (~0.7 s) only once a gallery is large enough for the HNSW index
                import faiss

                params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
                ef = self.ef_search or (HNSW_EF_SEARCH if n < LARGE else HNSW_EF_SEARCH_LARGE)
                params.efSearch = max(ef, want)
                # Erased nodes are zero vectors (score 0): they seldom reach the top, so a
                # small margin covers them.
                d, ix = self._hnsw.search(q, want + min(len(self._dead), 64), params=params)
                pairs = [(float(s), int(r)) for s, r in zip(d[0], ix[0], strict=True) if r >= 0]
            best: dict[str, Hit] = {}
            for sim, r in sorted(pairs, reverse=True):
                if r in self._dead or self._rows.ids[r] not in self._where:
                    continue
                subject = self._rows.subjects[r]
                if subject not in best:
                    best[subject] = Hit(self._rows.ids[r], subject, sim)
                    if len(best) == k:
                        break
            return list(best.values())
