"""FACEPROOF_TEMPLATE_KEY_COMPAT: generateTemplateFromImage also keys the template as the
reference's IDENTY_TYPE_1 (same bytes), and only when asked."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faceproof.config import Settings
from faceproof.pipeline.embedding_template import REFERENCE_TEMPLATE_NAME, TEMPLATE_NAME

pytestmark = pytest.mark.models

URL = "/api/v1/face/generateTemplateFromImage"
PORTRAIT = "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg"


def _templates(settings: Settings, image: str) -> dict[str, str]:
    from faceproof.api.app import create_app

    with TestClient(create_app(settings)) as client:
        r = client.post(URL, json={"image": image, "qualityMode": "ENROL"})
        assert r.status_code == 200, r.text
        templates = r.json()["data"]["templates"]
        assert isinstance(templates, dict)
        return templates


def test_reference_key_only_when_asked(
    make_settings: Callable[..., Settings], models_path: Path, data_root: Path
) -> None:
    image = base64.b64encode((data_root / PORTRAIT).read_bytes()).decode()
    plain = _templates(make_settings(require_models=True, model_dir=models_path), image)
    assert list(plain) == [TEMPLATE_NAME]

    compat = _templates(
        make_settings(require_models=True, model_dir=models_path, template_key_compat=True), image
    )
    assert set(compat) == {TEMPLATE_NAME, REFERENCE_TEMPLATE_NAME}
    assert compat[REFERENCE_TEMPLATE_NAME] == compat[TEMPLATE_NAME]
    # The template is the same embedding either way (one model, one image).
    assert base64.b64decode(compat[TEMPLATE_NAME])[:4] == base64.b64decode(plain[TEMPLATE_NAME])[:4]


def test_setting_reads_from_the_environment(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEPROOF_TEMPLATE_KEY_COMPAT", "true")
    assert make_settings().template_key_compat is True
    monkeypatch.setenv("FACEPROOF_TEMPLATE_KEY_COMPAT", "false")
    assert make_settings().template_key_compat is False
