"""Embedding a labelled image folder with the server's own pipeline (for calibrate / eval).

Each image goes through exactly what a request goes through: ``decode_image``, the engine's
``analyse`` (detector, mesh, iris five points) and the engine's embedding (its method). With an ID
proxy seed, a second embedding is made from the image degraded like an ID-card portrait and
analysed in document mode, as /matchWithPictureId analyses its reference image.

Vectors can be cached in an ``.npz``: they are biometric data, so the cache is private
(``faceproof.private_cache``: a bare name lives in ``~/.cache/faceproof``, files are 0600 in
a directory only this user can write, never in the project tree), and never logged.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from faceproof.errors import ApiError
from faceproof.matching.id_proxy import PROXY_VERSION, degrade_keyed
from faceproof.pipeline.decode import decode_image
from faceproof.private_cache import open_private, write_private

if TYPE_CHECKING:
    from faceproof.pipeline.engine import FaceEngine


@dataclass
class EmbeddedSet:
    relpaths: list[str]
    selfie: NDArray[np.float32]  # (n, d); rows of failed images are zero
    selfie_ok: NDArray[np.bool_]
    id_ref: NDArray[np.float32] | None  # degraded-reference embeddings, when requested
    id_ok: NDArray[np.bool_] | None

    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.relpaths)}


def embed_folder(
    engine: FaceEngine,
    root: Path,
    relpaths: Sequence[str],
    *,
    id_proxy_seed: int | None = None,
    progress: bool = True,
) -> EmbeddedSet:
    """Embed every image; failures (undecodable, no face) are flagged, not dropped."""
    n = len(relpaths)
    dim = int(engine.embedder.dimension)
    selfie = np.zeros((n, dim), dtype=np.float32)
    selfie_ok = np.zeros(n, dtype=bool)
    want_id = id_proxy_seed is not None
    id_ref = np.zeros((n, dim), dtype=np.float32) if want_id else None
    id_ok = np.zeros(n, dtype=bool) if want_id else None
    started = time.perf_counter()
    for i, rel in enumerate(relpaths):
        try:
            rgb = decode_image((root / rel).read_bytes(), field=rel).rgb
        except (ApiError, OSError):
            continue
        record, _ = engine.analyse(rgb, mode="selfie")
        if record is None or record.five_points is None or record.inter_eye_distance is None:
            continue
        selfie[i] = engine.embedding(rgb, record)
        selfie_ok[i] = True
        if id_proxy_seed is not None and id_ref is not None and id_ok is not None:
            degraded, _ = degrade_keyed(rgb, record.inter_eye_distance, rel, id_proxy_seed)
            rec_b, _ = engine.analyse(degraded, mode="document")
            if rec_b is not None and rec_b.five_points is not None:
                id_ref[i] = engine.embedding(degraded, rec_b)
                id_ok[i] = True
        if progress and (i + 1) % 500 == 0:
            rate = (i + 1) / (time.perf_counter() - started)
            print(f"  embedded {i + 1}/{n} ({rate:.1f} images/s)", file=sys.stderr)
    return EmbeddedSet(list(relpaths), selfie, selfie_ok, id_ref, id_ok)


def file_sha1s(root: Path, relpaths: Sequence[str]) -> list[str]:
    return [
        hashlib.sha1((root / p).read_bytes(), usedforsecurity=False).hexdigest() for p in relpaths
    ]


def cache_key(model_sha256: str, id_proxy_seed: int | None, embedding: str) -> str:
    """What the cached vectors depend on: model file, ID proxy and embedding method."""
    proxy = f"{PROXY_VERSION}/{id_proxy_seed}" if id_proxy_seed is not None else "none"
    return f"{model_sha256}|{proxy}|{embedding}"


def load_cached(path: Path, key: str, root: Path, relpaths: Sequence[str]) -> EmbeddedSet | None:
    """The cached vectors of ``relpaths`` (any subset of the cache), or None on any mismatch.

    Each entry is checked by its file's SHA-1, so a cache made for a larger folder (e.g. the
    calibration run) serves an evaluation of some of its images.
    """
    f = open_private(path)
    if f is None:
        return None
    with f, np.load(f, allow_pickle=False) as z:
        if str(z["key"]) != key:
            return None
        has_id = bool(z["has_id"])
        where = {
            (str(p), str(h)): i
            for i, (p, h) in enumerate(zip(z["relpaths"], z["sha1"], strict=True))
        }
        try:
            rows = np.array(
                [where[k] for k in zip(relpaths, file_sha1s(root, relpaths), strict=True)],
                dtype=np.int64,
            )
        except KeyError:
            return None
        return EmbeddedSet(
            relpaths=list(relpaths),
            selfie=z["selfie"][rows],
            selfie_ok=z["selfie_ok"][rows],
            id_ref=z["id_ref"][rows] if has_id else None,
            id_ok=z["id_ok"][rows] if has_id else None,
        )


def save_cached(path: Path, key: str, root: Path, data: EmbeddedSet) -> None:
    """Write the cache privately (0600, checked directory); never inside the source tree."""
    repo = Path(__file__).resolve().parents[3]
    target = path.resolve()
    if target.is_relative_to(repo):
        raise ValueError(f"refusing to cache embeddings inside the project tree ({repo})")
    empty = np.zeros((0,), dtype=np.float32)
    arrays: dict[str, Any] = {
        "key": np.array(key),
        "relpaths": np.array(data.relpaths),
        "sha1": np.array(file_sha1s(root, data.relpaths)),
        "selfie": data.selfie,
        "selfie_ok": data.selfie_ok,
        "has_id": np.array(data.id_ref is not None),
        "id_ref": data.id_ref if data.id_ref is not None else empty,
        "id_ok": data.id_ok if data.id_ok is not None else empty,
    }
    write_private(target, lambda f: np.savez(f, **arrays))


def same_photograph_pairs(
    engine: FaceEngine,
    root: Path,
    relpaths: Sequence[str],
    candidates: Sequence[tuple[int, int]],
    min_ncc: float = 0.9,
) -> set[tuple[int, int]]:
    """The candidate pairs whose faces are the same photograph, not just the same person.

    Normalised cross-correlation of the two aligned 112×112 grey crops: re-saves and
    different crops of one photo correlate at ≥ 0.9, two photos of one person far lower
    (≤ 0.83 among LFW's most similar pairs). Such a pair compares a face with itself and
    says nothing about impostors, whatever the folder names claim.
    """
    crops: dict[int, NDArray[np.float32] | None] = {}

    def crop(i: int) -> NDArray[np.float32] | None:
        if i not in crops:
            crops[i] = None
            try:
                rgb = decode_image((root / relpaths[i]).read_bytes()).rgb
            except (ApiError, OSError):
                return None
            record, _ = engine.analyse(rgb, mode="selfie")
            if record is not None and record.five_points is not None:
                g = engine.aligned112(rgb, record).astype(np.float32).mean(axis=2)
                crops[i] = (g - g.mean()) / (g.std() + 1e-6)
        return crops[i]

    out = set()
    for i, j in candidates:
        a, b = crop(i), crop(j)
        if a is not None and b is not None and float(np.mean(a * b)) >= min_ncc:
            out.add((min(i, j), max(i, j)))
    return out
