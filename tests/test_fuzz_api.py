"""Property-based fuzzing of every endpoint from our own OpenAPI document (schemathesis).

Whatever a client sends — wrong types, missing fields, junk strings, huge numbers — the
server answers in the documented error format and never with a 5xx.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from faceproof.api.app import create_app  # noqa: E402
from faceproof.config import load_settings  # noqa: E402


def _app() -> object:
    from conftest import model_dir

    models = model_dir()
    require = (models / "face_detection_short_range.tflite").is_file()
    data = Path(tempfile.mkdtemp(prefix="faceproof-fuzz-"))
    atexit.register(shutil.rmtree, data, True)
    return create_app(load_settings(data_dir=data, model_dir=models, require_models=require))


APP = _app()
schema = schemathesis.openapi.from_dict(APP.openapi())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(APP) as c:  # type: ignore[arg-type]
        yield c


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: schemathesis.Case, client: TestClient) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)  # no endpoint reads cookies
    response = client.request(**kwargs)
    assert response.status_code < 500 or response.json()["code"] == 604, response.text
    if response.status_code >= 400:
        body = response.json()
        assert {"code", "refid", "description"} <= set(body)
        assert "Traceback" not in response.text
