"""1:N identification benchmark: search and enrolment cost, memory, ANN recall vs exact.

    python bench/identification.py speed --sizes 10000,100000,1000000 [--queries 500]
    python bench/identification.py accuracy --root ../shared/data/verify/lfw \\
        --label-fixes src/faceproof/matching/lfw_label_fixes.tsv  # = faceproof eval identification

``speed``, per gallery size N (synthetic vectors, see ``--generator``):

* index build time and the resident memory it adds (``/proc/self/statm``), per million;
* search latency on **one core** (faiss and BLAS pinned to one thread): p50/p95 of
  ``GalleryIndex.search(q, 10)`` with the HNSW index, and of exact NumPy search beside it;
* recall@10 of HNSW against exact search, for mated queries (a gallery vector plus noise,
  cosine ≈ 0.7 to it, like a second photo of an enrolled person) and for non-mated queries
  (fresh vectors);
* enrolment into the embedded store (seal + SQLite insert with fsync + index update), and
  a worker's start-up load of the whole gallery (open every sealed row + build), up to
  ``--store-max`` templates.

Synthetic vectors: ``isotropic`` (default) are unit Gaussian vectors, the hardest case for
an ANN graph (no structure, every neighbour nearly as far as any other); ``lfw`` draws from
a Gaussian with the mean and covariance of real embeddings (the LFW calibration half, from
the embedding cache of ``eval identification``): closer to what a gallery holds.
Numbers depend on the machine and its load: say which when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before NumPy loads BLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

DIM = 192


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def gallery_vectors(n: int, generator: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if generator == "lfw":
        from faceproof.identification.evaluation import synthetic_vectors

        return synthetic_vectors(lfw_reference(), n, seed)
    out = np.empty((n, DIM), np.float32)
    for s in range(0, n, 200_000):
        m = min(200_000, n - s)
        out[s : s + m] = unit(rng.standard_normal((m, DIM)))
    return out


_REFERENCE: list[np.ndarray] = []


def lfw_reference() -> np.ndarray:
    """Embeddings of the LFW calibration half (from the private embedding cache that
    ``faceproof eval identification`` fills), to fit the ``lfw`` generator."""
    if not _REFERENCE:
        from faceproof.cli.identification import DEFAULT_CACHE, load_labelled
        from faceproof.identification.evaluation import split

        root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "verify" / "lfw"
        labelled, _ = load_labelled(root, None, None, DEFAULT_CACHE)
        _REFERENCE.append(split(labelled)[0].vectors)
    return _REFERENCE[0]


def mated_queries(g: np.ndarray, n: int, seed: int, cos: float = 0.7) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    pick = g[rng.integers(0, len(g), n)]
    noise = unit(rng.standard_normal((n, g.shape[1])))
    noise = unit(noise - (noise * pick).sum(1, keepdims=True) * pick)  # orthogonal part
    return unit(cos * pick + np.sqrt(1 - cos**2) * noise)


def exact_top(g: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(q), k), np.int64)
    for s in range(0, len(q), 64):
        sims = q[s : s + 64] @ g.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, 1), axis=1)
        out[s : s + 64] = np.take_along_axis(part, order, 1)
    return out


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, p))


def speed_point(n: int, args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from faceproof.identification.index import GalleryIndex

    faiss.omp_set_num_threads(args.build_threads)  # building may use more than one core
    g = gallery_vectors(n, args.generator, args.seed)
    ids = [f"t{i}" for i in range(n)]
    before = rss_mb()
    started = time.perf_counter()
    efs = [int(x) for x in str(args.ef_search).split(",")]
    index = GalleryIndex(DIM, ann_min=1, ef_search=efs[0])
    index.add(ids, ids, g)
    build_s = time.perf_counter() - started
    faiss.omp_set_num_threads(1)  # every search below runs on one core
    added_mb = rss_mb() - before
    hnsw = index._hnsw.hnsw
    graph = hnsw.neighbors.size() * 4 + hnsw.levels.size() * 4 + hnsw.offsets.size() * 8
    out: dict[str, Any] = {
        "templates": n,
        "index_bytes_per_template": round((g.nbytes + graph) / n),
        "index_mb_per_million": round((g.nbytes + graph) / n * 1e6 / 2**20),
        "dim": DIM,
        "generator": args.generator,
        "hnsw": {"M": 32, "efConstruction": 80},
        "build_s": round(build_s, 1),
        "build_threads": args.build_threads,
        "index_rss_mb": round(added_mb, 1),
        "rss_mb_per_million": round(added_mb * 1e6 / n),
        "vectors_mb": round(g.nbytes / 2**20, 1),
    }
    queries = (
        ("mated", mated_queries(g, args.queries, args.seed)),
        ("non_mated", gallery_vectors(args.queries, args.generator, args.seed + 7)),
    )
    truths = {kind: exact_top(g, q, 10) for kind, q in queries}
    for ef in efs:
        index.ef_search = ef
        for kind, q in queries:
            truth = truths[kind]
            times, found, first = [], 0, 0
            for i, x in enumerate(q):
                t0 = time.perf_counter()
                hits = index.search(x, 10)
                times.append(time.perf_counter() - t0)
                got = [int(h.template_id[1:]) for h in hits]
                found += len(set(got) & set(truth[i].tolist()))
                first += bool(got) and got[0] == truth[i][0]
            out[f"{kind}_ef{ef}"] = {
                "queries": len(q),
                "hnsw_p50_ms": round(pct(times, 50), 3),
                "hnsw_p95_ms": round(pct(times, 95), 3),
                "recall_at_10": round(found / (10 * len(q)), 4),
                "top1_agrees": round(first / len(q), 4),
            }
    q = queries[0][1]
    ex = []
    for x in q[: min(100, len(q))]:
        t0 = time.perf_counter()
        sims = g @ x
        np.argpartition(-sims, 40)[:40]
        ex.append(time.perf_counter() - t0)
    out["exact_p50_ms"] = round(pct(ex, 50), 2)
    out["exact_p95_ms"] = round(pct(ex, 95), 2)
    if n <= args.store_max:
        out["store"] = store_point(g, args)
    del index
    return out


def store_point(g: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """Enrolment through the service into the embedded store, and a worker's cold load."""
    import sqlite3
    import uuid

    from faceproof.identification.levels import FPIR_TARGETS, IdentificationCalibration, fit_curve
    from faceproof.identification.sealing import GalleryKeyring
    from faceproof.identification.service import IdentificationService, open_store
    from faceproof.pipeline.embedding_template import encode_embedding

    rng = np.random.default_rng(3)
    imp = (rng.standard_normal(100_000) * 0.1).astype(np.float32)
    cal = IdentificationCalibration(fit_curve(imp), dict(FPIR_TARGETS), {})
    digest = bytes(16)
    with tempfile.TemporaryDirectory(dir=args.tmp) as d:
        data = Path(d)
        ring = GalleryKeyring.open(data / "keys")
        store = open_store(None, data, DIM)
        t0 = time.perf_counter()
        rows = []
        for i, v in enumerate(g):
            tid = uuid.uuid4().hex
            plain = encode_embedding(v, "bench", digest, 80)
            rows.append(
                ("bench", tid, f"s{i}", ring.current, ring.seal(plain, "bench", f"s{i}", tid), 0)
            )
        db = sqlite3.connect(data / "galleries.sqlite3", isolation_level=None)
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO templates (gallery, id, subject, kid, sealed, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO changes (gallery, op, template_id) VALUES ('bench', 'add', ?)",
            [(r[1],) for r in rows],
        )
        db.execute("COMMIT")
        db.close()
        bulk_s = time.perf_counter() - t0
        svc = IdentificationService(store, ring, cal, "bench", digest, DIM, None)
        t0 = time.perf_counter()
        svc.identify("bench", g[0], 10)  # cold: opens every sealed row, builds the index
        load_s = time.perf_counter() - t0
        enrol = []
        extra = gallery_vectors(args.enrolments, "isotropic", 11)
        for i, v in enumerate(extra):
            t0 = time.perf_counter()
            svc.enrol("bench", f"new{i}", v, 80)
            enrol.append(time.perf_counter() - t0)
        dup = []
        for i, v in enumerate(extra[: max(1, args.enrolments // 2)]):
            t0 = time.perf_counter()
            svc.enrol("bench", f"dup{i}", -v, 80, duplicate_level="HIGH")
            dup.append(time.perf_counter() - t0)
        size_mb = sum(p.stat().st_size for p in data.glob("galleries.sqlite3*")) / 2**20
        svc.close()
    return {
        "bulk_seal_insert_s": round(bulk_s, 1),
        "worker_cold_load_s": round(load_s, 2),
        "enrol_p50_ms": round(pct(enrol, 50), 2),
        "enrol_p95_ms": round(pct(enrol, 95), 2),
        "enrol_with_duplicate_check_p50_ms": round(pct(dup, 50), 2),
        "sqlite_mb": round(size_mb, 1),
        "sqlite_bytes_per_template": round(size_mb * 2**20 / len(g)),
    }


def speed(args: argparse.Namespace) -> None:
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        print(f"N={n} …", file=sys.stderr, flush=True)
        r = speed_point(n, args)
        results.append(r)
        print(json.dumps(r), flush=True)
    doc = {
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
        "one_core": "faiss.omp_set_num_threads(1), OPENBLAS_NUM_THREADS=1",
        "results": results,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)


def accuracy(rest: list[str]) -> None:
    from faceproof.cli.identification import eval_identification

    eval_identification.main(args=rest, prog_name="bench/identification.py accuracy")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "accuracy":
        accuracy(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--sizes", default="10000,100000")
    s.add_argument("--queries", type=int, default=500)
    s.add_argument("--ef-search", default="128,256,512", help="efSearch values to sweep")
    s.add_argument("--generator", choices=("isotropic", "lfw"), default="isotropic")
    s.add_argument("--enrolments", type=int, default=200)
    s.add_argument("--store-max", type=int, default=100_000)
    s.add_argument("--tmp", default=None, help="Where the temporary data dir goes")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--build-threads", type=int, default=1, help="faiss threads for the build")
    s.add_argument("--out", default=None)
    sub.add_parser("accuracy", help="= faceproof eval identification (options after it)")
    args = p.parse_args()
    speed(args)


if __name__ == "__main__":
    main()
