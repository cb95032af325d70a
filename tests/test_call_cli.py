"""`faceproof call ENDPOINT …` against a live server: JSON answers, exit codes, path aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DATA
from faceproof.cli import main
from live_server import live_server
from test_serve_cli import _free_port

LIVE = DATA / "pad/live/silentface__image_T1.jpg"
NO_FACE = DATA / "misc/no_face/skimage__brick.png"
PORTRAIT = DATA / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg"


@pytest.fixture(scope="module")
def server(models_path: Path, data_root: Path) -> str:
    return live_server().url


def _call(server: str, *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    r = CliRunner().invoke(main, ["call", "--server", server, *args])
    out = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
    return r.exit_code, out, r.stderr


def test_success_prints_the_answer_with_long_strings_shortened(server: str) -> None:
    code, out, _ = _call(server, "/api/v1/face/as", str(LIVE), "--threshold", "HIGH")
    assert code == 0 and "is_spoof" in out
    args = ("process", str(LIVE), "--option", "requiredTemplates=JPEG")
    code, out, _ = _call(server, *args)
    assert out["data"]["templates"]["JPEG"].endswith("chars>")  # ~100 kB of base64, shortened
    code, out, _ = _call(server, "--full", *args)
    assert code == 0 and len(out["data"]["templates"]["JPEG"]) > 20_000


def test_capture_endpoint_seals_and_fits(server: str) -> None:
    code, out, _ = _call(server, "process", str(LIVE), "--option", "requiredTemplates=JPEG")
    assert (
        code == 0 and out["message"] == "FEEDBACK_CAPTURED" and "JPEG" in out["data"]["templates"]
    )
    code, _, err = _call(server, "process", str(PORTRAIT))
    assert code != 0 and "565×800" in err and "--fit" in err
    code, out, _ = _call(server, "process", str(PORTRAIT), "--fit", "--option", "enableAs=false")
    assert code == 0 and (out["data"]["width"], out["data"]["height"]) == (480, 640)


def test_documented_error_prints_its_body_and_exits_1(server: str) -> None:
    code, out, err = _call(server, "matchWithSelfie", str(NO_FACE), str(LIVE), "--level", "HIGH")
    assert code == 1 and out["code"] == 503 and out["feedbackCode"] == "ERROR_INVALID_IMAGE"
    assert out["refid"] in err


def test_no_server_exits_2() -> None:
    code, _, err = _call(f"http://127.0.0.1:{_free_port()}", "time")
    assert code == 2 and "ConnectError" in err
