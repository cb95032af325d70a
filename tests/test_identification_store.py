"""Galleries below the API: sealing at rest, both stores, the index, workers in step.

Runs against the embedded SQLite store and a real PostgreSQL + pgvector server started by
the test itself (skipped only when PostgreSQL's binaries are not installed). Vectors are
synthetic unit vectors; the calibration is fitted here on synthetic impostor scores, so the
tests check the machinery, not the shipped thresholds.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from faceproof.errors import ApiError
from faceproof.identification.index import GalleryIndex
from faceproof.identification.levels import (
    FPIR_TARGETS,
    IdentificationCalibration,
    fit_curve,
    fmr_for,
)
from faceproof.identification.sealing import KEY_FILE, GalleryKeyring, SealError
from faceproof.identification.service import IdentificationService, open_store
from faceproof.identification.sqlite_store import SqliteGalleryStore

DIM = 16
MODEL = "test-embedder"
DIGEST = bytes(range(16))


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def calibration() -> IdentificationCalibration:
    rng = np.random.default_rng(7)
    # Impostor cosines of random 16-D unit vectors: spread ~ 1/sqrt(16).
    imp = np.einsum("ij,ij->i", unit(rng, 200_000), unit(rng, 200_000)).astype(np.float32)
    return IdentificationCalibration(fit_curve(imp), dict(FPIR_TARGETS), {"dimension": DIM})


CAL = calibration()
DROP_ALL = (
    "DROP TABLE IF EXISTS faceproof_gallery_templates, faceproof_gallery_changes, "
    "faceproof_galleries"
)


def make_service(url: str | None, data_dir: Path, ann_min: int = 10_000) -> IdentificationService:
    keyring = GalleryKeyring.open(data_dir / "keys")
    store = open_store(url, data_dir, DIM)
    return IdentificationService(store, keyring, CAL, MODEL, DIGEST, DIM, None, ann_min=ann_min)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from pg_server import pg_bindir, postgres_server

    if pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str | None, Path]]:
    if request.param == "sqlite":
        yield None, tmp_path
        return
    url = request.getfixturevalue("pg_url")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:  # a clean schema per test
        conn.execute(DROP_ALL)
    yield url, tmp_path


# -- sealing -----------------------------------------------------------------------------------
def test_sealed_template_opens_only_where_it_was_sealed(tmp_path: Path) -> None:
    ring = GalleryKeyring.open(tmp_path / "keys")
    sealed = ring.seal(b"template bytes", "g1", "alice", "t1")
    assert ring.open_sealed(ring.current, sealed, "g1", "alice", "t1") == b"template bytes"
    assert b"template bytes" not in sealed
    for moved in (("g2", "alice", "t1"), ("g1", "bob", "t1"), ("g1", "alice", "t2")):
        with pytest.raises(SealError):
            ring.open_sealed(ring.current, sealed, *moved)
    tampered = bytearray(sealed)
    tampered[20] ^= 1
    with pytest.raises(SealError):
        ring.open_sealed(ring.current, bytes(tampered), "g1", "alice", "t1")
    other = GalleryKeyring.open(tmp_path / "other-keys")  # another deployment's key
    with pytest.raises(SealError):
        other.open_sealed(ring.current, sealed, "g1", "alice", "t1")
    key_file = tmp_path / "keys" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_rotation_keeps_old_rows_readable_and_reseal_moves_them(tmp_path: Path) -> None:
    svc = make_service(None, tmp_path)
    v = unit(np.random.default_rng(1), 3)
    for i in range(3):
        svc.enrol("g", f"s{i}", v[i], 90)
    old = svc.keyring.current
    new = GalleryKeyring.rotate(tmp_path / "keys")
    assert new != old
    svc2 = make_service(None, tmp_path)  # a worker started after the rotation
    assert svc2.keyring.current == new
    assert [c.subject for c in svc2.identify("g", v[1], 1)[1]] == ["s1"]
    assert svc2.reseal() == 3
    assert {t.kid for _, t in svc2.store.all_templates()} == {new}
    GalleryKeyring.drop(tmp_path / "keys", old)
    svc3 = make_service(None, tmp_path)
    assert old not in svc3.keyring.kids
    assert [c.subject for c in svc3.identify("g", v[2], 1)[1]] == ["s2"]


# -- the service on both stores -----------------------------------------------------------------
def test_enrol_identify_erase(backend: tuple[str | None, Path]) -> None:
    url, data_dir = backend
    svc = make_service(url, data_dir)
    rng = np.random.default_rng(2)
    v = unit(rng, 40)
    for i in range(40):
        svc.enrol("staff", f"p{i:02d}", v[i], 80)
    extra = svc.enrol("staff", "p07", v[7] + 0.05 * unit(rng, 1)[0], 80)
    assert (extra.templates, extra.created) == (2, False)
    n, cands = svc.identify("staff", v[7], 5)
    assert n == 41
    assert cands[0].subject == "p07" and cands[0].level_reached == "HIGHEST"
    assert [c.subject for c in cands].count("p07") == 1  # one line per subject
    # A stranger reaches no level: nothing comes back.
    assert svc.identify("staff", unit(rng, 1)[0], 5)[1] == []
    assert svc.delete_subject("staff", "p07") == 2
    assert all(c.subject != "p07" for c in svc.identify("staff", v[7], 5)[1])
    assert all(t.subject != "p07" for _, t in svc.store.all_templates("staff"))
    with pytest.raises(ApiError) as e:
        svc.delete_subject("staff", "p07")
    assert e.value.kind.name == "ERROR_SUBJECT_NOT_FOUND"
    # Paging: subjectId order, stable total.
    total, first = svc.store.subjects("staff", 0, 15)
    _, rest = svc.store.subjects("staff", 15, 100)
    assert total == 39 and len(first) == 15 and len(rest) == 24
    names = [s.subject for s in first + rest]
    assert names == sorted(names) and "p07" not in names
    # A whole gallery goes; others stay.
    svc.enrol("visitors", "v1", v[0], 80)
    assert svc.delete_gallery("staff") == 39
    with pytest.raises(ApiError) as e:
        svc.identify("staff", v[1], 5)
    assert e.value.kind.name == "ERROR_GALLERY_NOT_FOUND"
    assert svc.identify("visitors", v[0], 5)[1][0].subject == "v1"
    svc.close()


def test_duplicate_refused_at_the_requested_level(backend: tuple[str | None, Path]) -> None:
    url, data_dir = backend
    svc = make_service(url, data_dir)
    rng = np.random.default_rng(3)
    v = unit(rng, 5)
    for i in range(5):
        svc.enrol("g", f"s{i}", v[i], 80, duplicate_level="HIGH")
    with pytest.raises(ApiError) as e:
        svc.enrol("g", "impostor", v[3], 80, duplicate_level="HIGH")
    assert e.value.kind.name == "ERROR_DUPLICATE_SUBJECT"
    assert e.value.data is not None and e.value.data["subjectId"] == "s3"
    assert svc.store.count("g") == 5
    # The same person adding a second image is not a duplicate of someone else.
    assert svc.enrol("g", "s3", v[3], 80, duplicate_level="HIGH").templates == 2
    svc.close()


def test_workers_stay_in_step(backend: tuple[str | None, Path]) -> None:
    """Two workers on one data dir / database: enrolments and erasures of one are seen by
    the other's next search (its index follows the change log)."""
    url, data_dir = backend
    a, b = make_service(url, data_dir), make_service(url, data_dir)
    v = unit(np.random.default_rng(4), 10)
    a.enrol("g", "x", v[0], 80)
    assert b.identify("g", v[0], 1)[1][0].subject == "x"
    b.enrol("g", "y", v[1], 80)
    assert a.identify("g", v[1], 1)[1][0].subject == "y"
    a.delete_subject("g", "y")
    assert b.identify("g", v[1], 3)[1] == []
    a.delete_gallery("g")
    b.enrol("g", "z", v[2], 80)  # re-created gallery: a must not remember x
    assert [c.subject for c in a.identify("g", v[0], 3)[1]] == []
    assert a.identify("g", v[2], 1)[1][0].subject == "z"
    a.close()
    b.close()


def _enrol_many(url: str | None, data_dir: str, worker: int, vectors: np.ndarray) -> None:
    svc = make_service(url, Path(data_dir))
    for i, v in enumerate(vectors):
        svc.enrol("crowd", f"w{worker}-{i:03d}", v, 80)
    # Both workers race to enrol one face under two names with a duplicate check.
    with contextlib.suppress(ApiError):
        svc.enrol("crowd", f"twin-{worker}", _TWIN, 80, duplicate_level="MEDIUM")
    svc.close()


_TWIN = unit(np.random.default_rng(99), 1)[0]


def test_concurrent_enrolment_from_two_processes(backend: tuple[str | None, Path]) -> None:
    url, data_dir = backend
    make_service(url, data_dir).close()  # keys and schema exist before the race
    v = unit(np.random.default_rng(5), 120)
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_enrol_many, args=(url, str(data_dir), w, v[w * 60 : (w + 1) * 60]))
        for w in (0, 1)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    svc = make_service(url, data_dir)
    total, subjects = svc.store.subjects("crowd", 0, 1000)
    twins = [s.subject for s in subjects if s.subject.startswith("twin-")]
    assert len(twins) == 1  # the duplicate check and its insert were one atomic step
    assert total == 121
    for i in (0, 59, 60, 119):
        assert svc.identify("crowd", v[i], 1)[1][0].subject == f"w{i // 60}-{i % 60:03d}"
    svc.close()


# -- tampering -------------------------------------------------------------------------------
def _sqlite(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "galleries.sqlite3", isolation_level=None)


def test_tampered_or_moved_row_is_detected_and_never_answered(tmp_path: Path) -> None:
    svc = make_service(None, tmp_path)
    v = unit(np.random.default_rng(6), 3)
    for i, name in enumerate(("alice", "bob", "carol")):
        svc.enrol("g", name, v[i], 80)
    with _sqlite(tmp_path) as db:
        # Flip a byte of bob's template; move carol's row to look like mallory's.
        (tid_b, sealed) = db.execute(
            "SELECT id, sealed FROM templates WHERE subject='bob'"
        ).fetchone()
        bad = bytearray(sealed)
        bad[-1] ^= 0x80
        db.execute("UPDATE templates SET sealed = ? WHERE id = ?", (bytes(bad), tid_b))
        (tid_c,) = db.execute("SELECT id FROM templates WHERE subject='carol'").fetchone()
        db.execute("UPDATE templates SET subject = 'mallory' WHERE id = ?", (tid_c,))
    fresh = make_service(None, tmp_path)  # a worker (re)starting reads every row
    assert fresh.identify("g", v[0], 3)[1][0].subject == "alice"
    assert fresh.identify("g", v[1], 3)[1] == []
    assert fresh.identify("g", v[2], 3)[1] == []
    assert fresh.rejected == {tid_b, tid_c}


def test_wrong_key_is_detected(tmp_path: Path) -> None:
    svc = make_service(None, tmp_path)
    v = unit(np.random.default_rng(8), 2)
    svc.enrol("g", "alice", v[0], 80)
    (tmp_path / "keys" / KEY_FILE).unlink()
    # Same kid, another key: the worker cannot open any row.
    ring = GalleryKeyring.open(tmp_path / "keys")
    (tid,) = [t.template_id for _, t in svc.store.all_templates()]
    with _sqlite(tmp_path) as db:
        db.execute("UPDATE templates SET kid = ?", (ring.current,))
    fresh = make_service(None, tmp_path)
    with pytest.raises(ApiError) as e:  # an integrity failure, not "no such gallery"
        fresh.identify("g", v[0], 3)
    assert e.value.kind.name == "ERROR_SERVER_INTERNAL"
    assert fresh.rejected == {tid}


def test_pg_row_tampered_in_database_is_never_answered(pg_url: str, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(DROP_ALL)
    svc = make_service(pg_url, tmp_path)
    v = unit(np.random.default_rng(9), 2)
    svc.enrol("g", "alice", v[0], 80)
    svc.enrol("g", "bob", v[1], 80)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE faceproof_gallery_templates SET subject = 'mallory' WHERE subject = 'bob'"
        )
    assert svc.identify("g", v[1], 3)[1] == []
    assert svc.identify("g", v[0], 3)[1][0].subject == "alice"
    svc.close()


def test_erased_template_leaves_the_sqlite_file(tmp_path: Path) -> None:
    svc = make_service(None, tmp_path)
    v = unit(np.random.default_rng(10), 2)
    svc.enrol("g", "alice", v[0], 80)
    svc.enrol("g", "bob", v[1], 80)
    (sealed,) = [t.sealed for _, t in svc.store.all_templates() if t.subject == "alice"]
    svc.delete_subject("g", "alice")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("galleries.sqlite3*"))
    assert sealed[12:40] not in raw  # secure_delete + checkpoint: the bytes are gone
    assert isinstance(svc.store, SqliteGalleryStore)


# -- the index ---------------------------------------------------------------------------------
def test_hnsw_index_agrees_with_exact_and_erases_vectors() -> None:
    rng = np.random.default_rng(11)
    v = unit(rng, 2000)
    ids = [f"t{i}" for i in range(2000)]
    exact, ann = GalleryIndex(DIM, ann_min=10**9), GalleryIndex(DIM, ann_min=500)
    for index in (exact, ann):
        index.add(ids, [f"s{i}" for i in range(2000)], v)
    assert ann.uses_ann and not exact.uses_ann
    q = unit(rng, 50)
    agree = sum(
        [h.subject for h in exact.search(x, 10)] == [h.subject for h in ann.search(x, 10)]
        for x in q
    )
    assert agree >= 45
    ann.remove(["t5"])
    assert all(h.template_id != "t5" for h in ann.search(v[5], 10))
    import faiss

    storage = faiss.downcast_index(ann._hnsw.storage)
    stored = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * DIM).reshape(-1, DIM)
    assert not stored[5].any() and stored[6].any()  # the erased vector is zeros in memory
    ann.remove([f"t{i}" for i in range(600)])  # past a fifth erased: rebuilt without them
    assert len(ann) == 1400 and ann.uses_ann
    assert ann.search(v[700], 1)[0].template_id == "t700"


def test_fpir_levels_grow_stricter_with_gallery_size() -> None:
    assert fmr_for(0.01, 1) == pytest.approx(0.01)
    assert fmr_for(0.01, 1000) == pytest.approx(1.005e-5, rel=1e-3)
    for level in FPIR_TARGETS:
        t = [CAL.threshold(level, n) for n in (10, 1000, 100_000)]
        assert t[0] < t[1] <= t[2]
    # Measured on fresh synthetic impostor searches, FPIR at N=100 is near its target.
    rng = np.random.default_rng(12)
    gallery, probes = unit(rng, 100), unit(rng, 20_000)
    top = (probes @ gallery.T).max(axis=1)
    for level in ("LOW", "MEDIUM"):
        measured = float(np.mean(top >= CAL.threshold(level, 100)))
        assert FPIR_TARGETS[level] / 2 < measured < FPIR_TARGETS[level] * 2


def test_shipped_calibration_is_for_the_pinned_embedder_and_consistent() -> None:
    import json
    from importlib import resources

    from faceproof.identification.levels import STATED_SIZES, load_identification_calibration
    from faceproof.matching.levels import LEVELS

    cal = load_identification_calibration()
    manifest = json.loads(resources.files("faceproof").joinpath("models/manifest.json").read_text())
    (embedder,) = [m for m in manifest["models"] if m["name"] == "MobileFaceNet.tflite"]
    assert cal.model["sha256"] == embedder["sha256"]
    for n in STATED_SIZES:
        t = [cal.threshold(lv, n) for lv in LEVELS]
        assert all(a <= b for a, b in itertools.pairwise(t))
    for lv in LEVELS:
        assert cal.threshold(lv, 100) <= cal.threshold(lv, 1_000_000)
    # The split keeps evaluation identities out, and the file says how it validated.
    assert "sha256(name)" in cal.data["split"] and cal.data["impostor_pairs"] > 1_000_000
    assert cal.validation["non_mated_searches"] > 1000


def test_calibration_fitted_on_another_embedding_method_is_refused(tmp_path: Path) -> None:
    """Thresholds of plain and flip-averaged embeddings differ: a file fitted on the other
    method (an unmarked one is flip-averaged, made before the field) stops the start-up."""
    import json
    from importlib import resources

    from faceproof.config import ConfigError, Settings
    from faceproof.identification.service import IdentificationService
    from faceproof.models.mobilefacenet import DEFAULT_EMBEDDING, EMBEDDING_METHODS

    text = resources.files("faceproof").joinpath("data/identification_calibration.json")
    doc = json.loads(text.read_text())
    assert doc["model"]["embedding"] == DEFAULT_EMBEDDING
    other = next(m for m in EMBEDDING_METHODS if m != DEFAULT_EMBEDDING)
    variants = {
        "other": {**doc["model"], "embedding": other},
        "mixed": {**doc["model"], "reference_embedding": other},  # a measurement, not a fit
    }
    for name, model in variants.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**doc, "model": model}))
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            require_models=False,
            identification_calibration_path=path,
            data_dir=tmp_path / "data",
        )
        with pytest.raises(ConfigError, match="calibrate --identification"):
            IdentificationService.from_settings(settings, "m", bytes(32), 192, None)
    assert not (tmp_path / "data").exists()  # refused before any store or key was made
