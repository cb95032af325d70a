"""The match endpoints end to end with the real models and real photos from ../shared/data.

Pairs come from the start of LFW ``pairs-dev.txt`` fold 1 (index 0; not hand-picked). Its
identities are part of the shipped match calibration, so these pairs are **in sample**: they
check what the endpoints answer, not error rates (those are measured out of sample, on the
folds the calibration held out: docs/matching.md, test_matching.py). The spoof branch
of /verifyWithPictureId uses a stub in place of ``services.liveness``: a test double of the
liveness collaborator (whose own tests live with it), so that this file tests what the match
endpoint does with each liveness outcome.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from faceproof.matching.levels import LEVELS
from faceproof.matching.pairs import Pair, parse_pairs

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
VERIFY = DATA / "verify"
API = "/api/v1"
MATCH_KEYS = {
    "code",
    "feedbackCode",
    "refid",
    "score",
    "similarityScore",
    "possibleMatch",
    "multipleFacesImage",
    "matchHighestSecurityLevelReached",
}


@pytest.fixture(scope="module")
def face_client(
    tmp_path_factory: pytest.TempPathFactory, models_path: Path
) -> Iterator[TestClient]:
    """The app with models (module scope: building keys and models once keeps this fast)."""
    if not VERIFY.is_dir():
        pytest.skip("../shared/data is not present")
    from faceproof.api.app import create_app
    from faceproof.config import load_settings

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("FACEPROOF_") and key != "FACEPROOF_MODEL_DIR":
                mp.delenv(key, raising=False)
        tmp = tmp_path_factory.mktemp("match_api")
        mp.chdir(tmp)
        settings = load_settings(data_dir=tmp / "data", model_dir=models_path, require_models=True)
        with TestClient(create_app(settings), raise_server_exceptions=False) as c:
            yield c


@pytest.fixture(scope="module")
def dev_pairs() -> list[Pair]:
    path = VERIFY / "pairs-dev.txt"
    if not path.is_file():
        pytest.skip("../shared/data is not present")
    return parse_pairs(path.read_text())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def lfw_bytes(rel: str) -> bytes:
    return (VERIFY / "lfw" / rel).read_bytes()


def selfie_640(rel: str) -> bytes:
    """A real LFW photo scaled and centred on a 640×480 canvas, as a webcam frame."""
    with Image.open(VERIFY / "lfw" / rel) as im:
        face = im.convert("RGB").resize((420, 420), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (640, 480), (128, 128, 128))
    canvas.paste(face, (110, 30))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def body(a: bytes, b: bytes, level: str = "MEDIUM", fa: str = "JPEG", fb: str = "JPEG") -> dict:
    return {
        "image": {"template": b64(a), "format": fa},
        "imageToVerifyAgainst": {"template": b64(b), "format": fb},
        "level": level,
    }


def first(pairs: list[Pair], same: bool, n: int) -> list[Pair]:
    return [p for p in pairs if p.same == same and p.fold == 0][:n]


def err(r: Any, code: int, http: int = 400) -> dict:
    assert r.status_code == http, r.text
    j = r.json()
    assert j["code"] == code, j
    return j


# -- matchWithSelfie / matchWithPictureId ------------------------------------------------


@pytest.mark.models
def test_same_person_matches_at_medium(face_client: TestClient, dev_pairs: list[Pair]) -> None:
    for p in first(dev_pairs, True, 3):
        r = face_client.post(f"{API}/matchWithSelfie", json=body(lfw_bytes(p.a), lfw_bytes(p.b)))
        assert r.status_code == 200, r.text
        j = r.json()
        assert set(j) == MATCH_KEYS | {"multipleFacesImageToVerifyAgainst"}
        assert j["code"] == 200 and j["feedbackCode"] == "FEEDBACK_MATCHED"
        assert j["refid"].startswith("W-face-MATCH121-")
        assert j["possibleMatch"] is True, (p, j)
        assert j["similarityScore"] >= 80 and 0 <= j["score"] < 1
        assert LEVELS.index(j["matchHighestSecurityLevelReached"]) >= LEVELS.index("MEDIUM")


@pytest.mark.models
def test_different_people_do_not_match(face_client: TestClient, dev_pairs: list[Pair]) -> None:
    for p in first(dev_pairs, False, 3):
        r = face_client.post(f"{API}/matchWithSelfie", json=body(lfw_bytes(p.a), lfw_bytes(p.b)))
        j = r.json()
        assert r.status_code == 200 and j["possibleMatch"] is False, (p, j)
        assert j["similarityScore"] < 80 and j["score"] > 0.3
        assert j["matchHighestSecurityLevelReached"] in ("NONE", "LOW")


@pytest.mark.models
def test_levels_are_monotonic_over_the_api(face_client: TestClient, dev_pairs: list[Pair]) -> None:
    p = first(dev_pairs, True, 1)[0]
    a, b = lfw_bytes(p.a), lfw_bytes(p.b)
    answers = [
        face_client.post(f"{API}/matchWithSelfie", json=body(a, b, lv)).json() for lv in LEVELS
    ]
    reached = {j["matchHighestSecurityLevelReached"] for j in answers}
    assert len(reached) == 1  # independent of the requested level
    top = reached.pop()
    rank = 0 if top == "NONE" else LEVELS.index(top) + 1
    assert [j["possibleMatch"] for j in answers] == [i + 1 <= rank for i in range(len(LEVELS))]
    assert len({(j["score"], j["similarityScore"]) for j in answers}) == 1


@pytest.mark.models
def test_selfie_640x480_png_and_iso_formats_give_the_same_answer(
    face_client: TestClient, dev_pairs: list[Pair]
) -> None:
    from faceproof.pipeline.iso19794 import encode_record

    p = first(dev_pairs, True, 1)[0]
    a = selfie_640(p.a)
    b = lfw_bytes(p.b)
    png = io.BytesIO()
    with Image.open(io.BytesIO(a)) as im:
        im.save(png, format="PNG")  # lossless copy of the same pixels
    iso = encode_record(a, 640, 480)
    answers = [
        face_client.post(f"{API}/matchWithSelfie", json=body(img, b, fa=fmt)).json()
        for img, fmt in ((a, "JPEG"), (png.getvalue(), "PNG"), (iso, "ISO_19794_5"))
    ]
    assert all(j["code"] == 200 and j["possibleMatch"] for j in answers), answers
    assert len({j["score"] for j in answers}) == 1


@pytest.mark.models
def test_match_with_picture_id_answers_like_the_reference(
    face_client: TestClient, dev_pairs: list[Pair]
) -> None:
    p = first(dev_pairs, True, 1)[0]
    r = face_client.post(
        f"{API}/matchWithPictureId", json=body(selfie_640(p.a), lfw_bytes(p.b), "LOW")
    )
    j = r.json()
    assert r.status_code == 200 and set(j) == MATCH_KEYS, j  # no ...ToVerifyAgainst flag
    assert j["possibleMatch"] is True
    q = first(dev_pairs, False, 1)[0]
    j2 = face_client.post(
        f"{API}/matchWithPictureId", json=body(lfw_bytes(q.a), lfw_bytes(q.b), "LOW")
    ).json()
    assert j2["possibleMatch"] is False and j2["similarityScore"] < 60


@pytest.mark.models
def test_multiple_faces_are_flagged(face_client: TestClient, dev_pairs: list[Pair]) -> None:
    group = (DATA / "misc" / "multi_face" / "face_recognition__two_people.jpg").read_bytes()
    single = lfw_bytes(first(dev_pairs, True, 1)[0].a)
    j = face_client.post(f"{API}/matchWithSelfie", json=body(group, single)).json()
    assert j["code"] == 200 and j["multipleFacesImage"] is True, j
    assert j["multipleFacesImageToVerifyAgainst"] is False
    j = face_client.post(f"{API}/matchWithSelfie", json=body(single, group)).json()
    assert j["multipleFacesImage"] is False and j["multipleFacesImageToVerifyAgainst"] is True


# -- documented errors -------------------------------------------------------------------


@pytest.mark.models
def test_no_face_is_503_with_the_documented_field(
    face_client: TestClient, dev_pairs: list[Pair]
) -> None:
    face = lfw_bytes(first(dev_pairs, True, 1)[0].a)
    brick = (DATA / "misc" / "no_face" / "skimage__brick.png").read_bytes()
    j = err(face_client.post(f"{API}/matchWithSelfie", json=body(brick, face, fa="PNG")), 503)
    assert j["feedbackCode"] == "ERROR_INVALID_IMAGE"
    assert j["description"].startswith("(/image/template) No face detected. ")
    j = err(face_client.post(f"{API}/matchWithPictureId", json=body(face, brick, fb="PNG")), 503)
    assert j["description"].startswith("(/imageToVerifyAgainst/template) No face detected. ")


@pytest.mark.models
@pytest.mark.parametrize(
    ("fmt_a", "tmpl_a", "fmt_b", "tmpl_b", "description"),
    [
        ("GIF", None, "JPEG", None, "(/image/template) Unsupported template"),
        (
            "JPEG",
            None,
            "NIST_10",
            None,
            "(/imageToVerifyAgainst/format) NIST 10 templates are not supported for matching",
        ),
        (
            "JPEG",
            "%%%not base64%%%",
            "JPEG",
            None,
            "(/image/template) unable to decode template: not valid base64",
        ),
        ("JPEG", None, "JPEG", "truncated", None),
    ],
)
def test_bad_format_or_undecodable_is_504(
    face_client: TestClient,
    dev_pairs: list[Pair],
    fmt_a: str,
    tmpl_a: str | None,
    fmt_b: str,
    tmpl_b: str | None,
    description: str | None,
) -> None:
    face = lfw_bytes(first(dev_pairs, True, 1)[0].a)
    req = body(face, face, fa=fmt_a, fb=fmt_b)
    if tmpl_a is not None:
        req["image"]["template"] = tmpl_a
    if tmpl_b == "truncated":
        req["imageToVerifyAgainst"]["template"] = b64(face[: len(face) // 2])
    j = err(face_client.post(f"{API}/matchWithSelfie", json=req), 504)
    assert j["feedbackCode"] == "ERROR_INVALID_FORMAT"
    if description:
        assert j["description"].startswith(description)
    else:
        assert j["description"].startswith("(/imageToVerifyAgainst/template) Could not decode")


@pytest.mark.models
@pytest.mark.parametrize("level", ["NONE", "EXTREME", ""])
def test_level_out_of_range_is_505(
    face_client: TestClient, dev_pairs: list[Pair], level: str
) -> None:
    face = lfw_bytes(first(dev_pairs, True, 1)[0].a)
    for endpoint in ("matchWithSelfie", "matchWithPictureId"):
        j = err(face_client.post(f"{API}/{endpoint}", json=body(face, face, level)), 505)
        assert j["feedbackCode"] == "ERROR_INVALID_MATCH_LEVEL"


@pytest.mark.models
def test_invalid_json_or_fields_is_501(face_client: TestClient) -> None:
    r = face_client.post(
        f"{API}/matchWithSelfie", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert err(r, 501)["feedbackCode"] == "ERROR_INVALID_JSON"
    missing = {"image": {"template": "AAAA", "format": "JPEG"}, "level": "LOW"}
    j = err(face_client.post(f"{API}/matchWithSelfie", json=missing), 501)
    assert "imageToVerifyAgainst" in j["description"]
    wrong_type = body(b"x", b"x")
    wrong_type["level"] = 3
    err(face_client.post(f"{API}/matchWithPictureId", json=wrong_type), 501)


@pytest.mark.models
def test_matcher_missing_is_500(
    face_client: TestClient, dev_pairs: list[Pair], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = face_client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "matcher", None)
    face = lfw_bytes(first(dev_pairs, True, 1)[0].a)
    err(face_client.post(f"{API}/matchWithSelfie", json=body(face, face)), 500, http=500)


# -- verifyWithPictureId -----------------------------------------------------------------


@dataclass
class StubLiveness:
    """Test double of LivenessService: a fixed verdict, and a record of the calls."""

    is_spoof: bool = False
    insecure: bool = False
    calls: list[Any] = field(default_factory=list)

    def evaluate_capture(self, engine: Any, capture: Any, record: Any = None) -> SimpleNamespace:
        self.calls.append(capture)
        return SimpleNamespace(
            is_spoof=self.is_spoof,
            insecure=self.insecure,
            level_reached=None if self.is_spoof else "HIGH",
            # the liveness score: higher = more likely bona fide (docs/api-decisions.md)
            score=0.05 if self.is_spoof else 0.9,
            quality_ok=True,
            threshold="HIGH",
        )


def envelope(client: TestClient, frames: list[bytes]) -> bytes:
    from faceproof.crypto.envelope import build_envelope

    services = client.app.state.services  # type: ignore[attr-defined]
    return build_envelope(frames, services.keystore.public_jwk())


def verify(
    client: TestClient, token: bytes, pic: bytes, fmt: str = "JPEG", level: str = "MEDIUM"
) -> Any:
    return client.post(
        f"{API}/verifyWithPictureId",
        files={"file": ("bdata", token, "application/octet-stream")},
        data={"picID": b64(pic), "template": fmt, "level": level},
    )


@pytest.mark.models
def test_verify_live_capture_answers_like_match_with_picture_id(
    face_client: TestClient, dev_pairs: list[Pair], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = StubLiveness()
    monkeypatch.setattr(face_client.app.state.services, "liveness", stub)  # type: ignore[attr-defined]
    p = first(dev_pairs, True, 1)[0]
    r = verify(face_client, envelope(face_client, [selfie_640(p.a)]), lfw_bytes(p.b))
    j = r.json()
    # The additive `liveness` block (docs/liveness.md) comes with the reference's members.
    assert r.status_code == 200 and set(j) == MATCH_KEYS | {"liveness"}, j
    assert j["liveness"]["decision"] == "live"
    assert j["refid"].startswith("W-face-VERIFY-") and j["possibleMatch"] is True
    assert len(stub.calls) == 1
    q = first(dev_pairs, False, 1)[0]
    j = verify(face_client, envelope(face_client, [selfie_640(q.a)]), lfw_bytes(q.b)).json()
    assert j["code"] == 200 and j["possibleMatch"] is False


@pytest.mark.models
@pytest.mark.parametrize(
    ("insecure", "name"), [(False, "FEEDBACK_RETRY"), (True, "FEEDBACK_RETRY_INSECURE")]
)
def test_verify_spoof_answers_like_process(
    face_client: TestClient,
    dev_pairs: list[Pair],
    monkeypatch: pytest.MonkeyPatch,
    insecure: bool,
    name: str,
) -> None:
    stub = StubLiveness(is_spoof=not insecure, insecure=insecure)
    monkeypatch.setattr(face_client.app.state.services, "liveness", stub)  # type: ignore[attr-defined]
    p = first(dev_pairs, True, 1)[0]
    r = verify(face_client, envelope(face_client, [selfie_640(p.a)]), lfw_bytes(p.b))
    j = err(r, 401)
    assert j["message"] == name and "feedbackCode" not in j
    assert j["quality"] is True
    img = base64.b64decode(j["data"]["image"])
    with Image.open(io.BytesIO(img)) as im:
        assert im.format == "JPEG" and im.size == (640, 480)
    assert "possibleMatch" not in j


@pytest.mark.models
def test_verify_without_liveness_never_matches(
    face_client: TestClient, dev_pairs: list[Pair], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(face_client.app.state.services, "liveness", None)  # type: ignore[attr-defined]
    p = first(dev_pairs, True, 1)[0]
    r = verify(face_client, envelope(face_client, [selfie_640(p.a)]), lfw_bytes(p.b))
    err(r, 500, http=500)


@pytest.mark.models
def test_verify_errors(
    face_client: TestClient, dev_pairs: list[Pair], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = StubLiveness()
    monkeypatch.setattr(face_client.app.state.services, "liveness", stub)  # type: ignore[attr-defined]
    p = first(dev_pairs, True, 1)[0]
    pic = lfw_bytes(p.b)
    token = envelope(face_client, [selfie_640(p.a)])
    # Field errors are answered before the capture is opened: the same token stays usable.
    assert err(verify(face_client, token, pic, level="NONE"), 505)["feedbackCode"] == (
        "ERROR_INVALID_MATCH_LEVEL"
    )
    j = err(verify(face_client, token, pic, fmt="BMP"), 504)
    assert j["description"].startswith("(/template) Unsupported template")
    brick = (DATA / "misc" / "no_face" / "skimage__brick.png").read_bytes()
    assert stub.calls == []
    assert verify(face_client, token, pic).json()["code"] == 200
    # The envelope is single-use, and a forged one fails the same way.
    assert err(verify(face_client, token, pic), 601)["feedbackCode"] == "ERROR_DECRYPTION_FAILED"
    err(verify(face_client, b"not-a-jwe", pic), 601)
    # An envelope whose frame is not a decodable image has no usable template.
    junk = b"\xff\xd8\xff\xe0" + bytes(2000)
    j = err(verify(face_client, envelope(face_client, [junk]), pic), 507)
    assert j["feedbackCode"] == "NO_TEMPLATES_SPECIFIED"
    # No face in the capture: answered before liveness runs.
    canvas = Image.new("RGB", (640, 480), (90, 90, 90))
    with Image.open(io.BytesIO(brick)) as im:
        canvas.paste(im.convert("RGB"), (64, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG")
    calls = len(stub.calls)
    j = err(verify(face_client, envelope(face_client, [buf.getvalue()]), pic), 503)
    assert j["description"].startswith("(/file) No face detected. ") and len(stub.calls) == calls
    # No face on the ID picture (after liveness passed).
    j = err(verify(face_client, envelope(face_client, [selfie_640(p.a)]), brick, fmt="PNG"), 503)
    assert j["description"].startswith("(/template) No face detected. ")
    # Missing form field.
    r = face_client.post(
        f"{API}/verifyWithPictureId",
        files={"file": ("bdata", token, "application/octet-stream")},
        data={"template": "JPEG", "level": "LOW"},
    )
    assert err(r, 501)["feedbackCode"] == "ERROR_INVALID_JSON"


@pytest.mark.models
def test_verify_with_the_real_liveness_stage(face_client: TestClient) -> None:
    """No test double: a live webcam capture against an ID-like portrait of the same person
    (another frame of the clip, cropped, shrunk and re-compressed) matches; a phone-replay
    capture of the same kind is refused before any matching."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from imaging import DATA, encode, video_frames

    live = video_frames()
    engine = face_client.app.state.services.face  # type: ignore[attr-defined]
    portrait = live[8]
    det = engine.find_faces(portrait, "document").main
    assert det is not None
    x0, y0, x1, y1 = (int(v) for v in det.box)
    w, h = x1 - x0, y1 - y0
    crop = portrait[max(0, y0 - h // 2) : y1 + h // 3, max(0, x0 - w // 3) : x1 + w // 3]
    small = Image.fromarray(crop).resize((120, 150))
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=60)
    r = verify(face_client, envelope(face_client, [encode(live[3])]), buf.getvalue())
    j = r.json()
    assert r.status_code == 200, j
    assert j["feedbackCode"] == "FEEDBACK_MATCHED" and j["possibleMatch"] is True
    replay = video_frames(DATA / "video/apfol__fake2__replay_attack_phone.webm", 15, 1)[0]
    r = verify(face_client, envelope(face_client, [encode(replay)]), buf.getvalue())
    assert r.status_code == 400 and r.json()["message"] == "FEEDBACK_RETRY"
