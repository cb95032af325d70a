"""Shared fixtures: settings in a temp data dir, the app, real data and model locations."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faceproof.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"


def model_dir() -> Path:
    env = os.environ.get("FACEPROOF_MODEL_DIR")
    return Path(env) if env else REPO / "var" / "models"


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return DATA


@pytest.fixture(scope="session")
def models_path() -> Path:
    from faceproof.models.store import load_manifest

    path = model_dir()
    missing = [m.name for m in load_manifest().models if not m.path(path).is_file()]
    if missing:
        pytest.skip(f"model store {path} lacks {missing[0]}: run `faceproof models fetch`")
    return path


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings isolated from the developer's env and .env, with a temp data dir."""
    for key in list(os.environ):
        if key.startswith("FACEPROOF_") and key != "FACEPROOF_MODEL_DIR":
            monkeypatch.delenv(key, raising=False)
    for key in ("SERVER_CONFIG_PATH", "TEMPLATE_ENCRYPTION_ENABLED", "TEMPLATE_ENCRYPTION_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env

    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "model_dir": model_dir(),
            "require_models": False,
        }
        base.update(overrides)
        return load_settings(**base)

    return make


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """The app without face models: the foundation (utility, crypto, errors, ledger)."""
    from faceproof.api.app import create_app

    app = create_app(make_settings())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def face_app(
    make_settings: Callable[..., Settings], models_path: Path, data_root: Path
) -> Iterator[TestClient]:
    """The whole app with every model, on a temp data dir."""
    from faceproof.api.app import create_app

    app = create_app(make_settings(require_models=True, model_dir=models_path))
    with TestClient(app) as c:
        yield c
