"""The identification endpoints end to end: real models, real photos, the embedded store.

Subjects are the people of ../shared/data/verify/extra/face_recognition_knn_examples (train
images enrolled, test images searched). SDK captures use a stub in place of
``services.liveness`` (the liveness service has its own tests), so that this file checks what
/identify does with each liveness outcome.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from faceproof.config import Settings
from imaging import encode, fit, load_rgb

pytestmark = pytest.mark.models

API = "/api/v1"
KNN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "verify" / "extra"
KNN = KNN / "face_recognition_knn_examples"


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def image(path: Path) -> dict[str, str]:
    return {"template": b64(path), "format": "JPEG"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from conftest import model_dir
    from faceproof.api.app import create_app
    from faceproof.config import load_settings

    if not (model_dir() / "MobileFaceNet.tflite").is_file() or not KNN.is_dir():
        pytest.skip("models or ../shared/data missing")
    data = tmp_path_factory.mktemp("ident")
    settings = load_settings(data_dir=data, model_dir=model_dir(), require_models=True)
    with TestClient(create_app(settings)) as c:
        yield c


def enrol(c: TestClient, gallery: str, body: dict[str, Any]) -> Any:
    return c.post(f"{API}/galleries/{gallery}/subjects", json=body)


def identify(c: TestClient, **body: Any) -> Any:
    return c.post(f"{API}/identify", json=body)


def err(r: Any, code: int, http: int = 400) -> dict[str, Any]:
    j = r.json()
    assert (r.status_code, j["code"]) == (http, code), j
    assert j["refid"].startswith("W-face-MATCH1N-") and "feedbackCode" in j
    return j  # type: ignore[no-any-return]


def test_enrol_identify_erase_end_to_end(app: TestClient) -> None:
    train = KNN / "train"
    for person, img in (
        ("alex", "alex_lacamoire/img1.jpg"),
        ("biden", "biden/biden.jpg"),
        ("obama", "obama/obama.jpg"),
        ("rose", "rose_leslie/img1.jpg"),
    ):
        r = enrol(app, "people", {"subjectId": person, "image": image(train / img)})
        j = r.json()
        assert r.status_code == 200, j
        assert j["feedbackCode"] == "FEEDBACK_ENROLLED" and j["created"] is True
        assert j["refid"].startswith("W-face-MATCH1N-")
    # Kit's photos fail the ENROL gate (510); a template made without the gate is accepted.
    err(
        enrol(
            app, "people", {"subjectId": "kit", "image": image(train / "kit_harington/john1.jpeg")}
        ),
        510,
    )
    gen = app.post(
        f"{API}/face/generateTemplateFromImage",
        json={"image": b64(train / "kit_harington/john2.jpeg"), "qualityMode": "DISABLED"},
    ).json()
    template = gen["data"]["templates"]["FACEPROOF_T1"]
    assert enrol(app, "people", {"subjectId": "kit", "template": template}).status_code == 200
    second = enrol(
        app, "people", {"subjectId": "obama", "image": image(train / "obama/obama2.jpg")}
    )
    assert second.json()["templates"] == 2 and second.json()["created"] is False

    test = KNN / "test"
    for probe, who in (
        ("obama_and_biden.jpg", "obama"),  # the most prominent face is searched
        ("alex_lacamoire1.jpg", "alex"),
        ("johnsnow_test1.jpg", "kit"),
    ):
        r = identify(app, gallery="people", level="MEDIUM", image=image(test / probe))
        j = r.json()
        assert r.status_code == 200, j
        assert j["feedbackCode"] == "FEEDBACK_MATCHED" and j["gallerySize"] == 6
        assert j["identified"] is True and j["candidates"][0]["subjectId"] == who, j
        assert j["candidates"][0]["similarityScore"] > 0
        scores = [c["similarityScore"] for c in j["candidates"]]
        assert scores == sorted(scores, reverse=True)
    group = identify(app, gallery="people", level="LOW", image=image(test / "obama_and_biden.jpg"))
    assert group.json()["multipleFacesImage"] is True
    alone = identify(app, gallery="people", level="LOW", image=image(test / "alex_lacamoire1.jpg"))
    assert alone.json()["multipleFacesImage"] is False

    # A duplicate: Obama's other photo under another name, with a duplicate check.
    dup = enrol(
        app,
        "people",
        {
            "subjectId": "barack",
            "image": image(train / "obama/obama2.jpg"),
            "duplicateLevel": "MEDIUM",
        },
    )
    j = err(dup, 409, http=409)
    assert j["feedbackCode"] == "ERROR_DUPLICATE_SUBJECT" and j["data"]["subjectId"] == "obama"

    # Paging.
    page1 = app.get(f"{API}/galleries/people/subjects", params={"limit": 2}).json()
    page2 = app.get(f"{API}/galleries/people/subjects", params={"offset": 2, "limit": 10}).json()
    assert page1["total"] == 5 and [s["subjectId"] for s in page1["subjects"]] == ["alex", "biden"]
    assert [s["subjectId"] for s in page2["subjects"]] == ["kit", "obama", "rose"]
    assert page2["subjects"][2 - 1]["templates"] == 2
    err(app.get(f"{API}/galleries/people/subjects", params={"limit": 0}), 501)

    # Erasure: Obama is gone from storage and from the index.
    r = app.delete(f"{API}/galleries/people/subjects/obama")
    assert r.status_code == 200 and r.json()["templatesDeleted"] == 2
    j = identify(
        app, gallery="people", level="LOW", image=image(test / "obama_and_biden.jpg")
    ).json()
    assert all(c["subjectId"] != "obama" for c in j["candidates"]) and j["gallerySize"] == 4
    services = app.app.state.services  # type: ignore[attr-defined]
    assert all(t.subject != "obama" for _, t in services.identification.store.all_templates())
    err(app.delete(f"{API}/galleries/people/subjects/obama"), 404, http=404)

    # The ledger has the identify rows under MATCH1N, with the levels.
    rows = [
        t for t in services.ledger.query(None, None, "MATCH1N") if t.endpoint.endswith("/identify")
    ]
    assert rows and rows[-1].security_level_requested == "LOW"

    # A whole gallery.
    r = app.delete(f"{API}/galleries/people")
    assert r.status_code == 200 and r.json()["templatesDeleted"] == 4
    err(
        identify(app, gallery="people", level="LOW", image=image(test / "obama_and_biden.jpg")),
        404,
        http=404,
    )
    err(app.delete(f"{API}/galleries/people"), 404, http=404)


def test_bad_input_is_answered_with_documented_codes(app: TestClient, data_root: Path) -> None:
    train = KNN / "train"
    assert (
        enrol(
            app, "errs", {"subjectId": "biden", "image": image(train / "biden/biden.jpg")}
        ).status_code
        == 200
    )
    ok = {"gallery": "errs", "level": "HIGH", "image": image(KNN / "test/obama_and_biden.jpg")}
    err(
        app.post(f"{API}/identify", content=b"{nope", headers={"content-type": "application/json"}),
        501,
    )
    err(identify(app, **{**ok, "level": "SUPER"}), 505)  # "high" is HIGH (one rule, any case)
    err(identify(app, **{**ok, "level": "NONE"}), 505)
    err(identify(app, **{k: v for k, v in ok.items() if k != "level"}), 501)
    err(identify(app, **{**ok, "gallery": "no/slash"}), 501)
    err(identify(app, **{**ok, "maxResults": 0}), 501)
    err(identify(app, **{**ok, "maxResults": 101}), 501)
    err(identify(app, **{**ok, "template": "AAAA"}), 501)  # image and template both given
    err(identify(app, gallery="errs", level="HIGH"), 501)  # neither
    err(identify(app, **{**ok, "gallery": "nobody-here"}), 404, http=404)
    err(identify(app, **{**ok, "image": {"template": "@@@", "format": "JPEG"}}), 504)
    err(
        identify(
            app, **{**ok, "image": {"template": b64(train / "biden/biden.jpg"), "format": "GIF"}}
        ),
        504,
    )
    brick = data_root / "misc/no_face/skimage__brick.png"
    err(identify(app, **{**ok, "image": {"template": b64(brick), "format": "PNG"}}), 503)
    foreign = base64.b64encode(b"FPT1" + bytes(60)).decode()
    err(identify(app, gallery="errs", level="HIGH", template=foreign), 504)
    err(
        enrol(app, "errs", {"subjectId": "bad id!", "image": image(train / "biden/biden.jpg")}), 501
    )
    err(
        enrol(
            app,
            "errs",
            {"subjectId": "x", "image": image(train / "biden/biden.jpg"), "duplicateLevel": "SOME"},
        ),
        505,
    )
    err(
        enrol(
            app,
            "errs",
            {
                "subjectId": "x",
                "image": image(data_root / "misc/multi_face/face_recognition__obama_and_biden.jpg"),
            },
        ),
        509,
    )
    err(enrol(app, "errs", {"image": image(train / "biden/biden.jpg")}), 501)
    err(app.delete(f"{API}/galleries/errs/subjects/nobody"), 404, http=404)
    spec = app.get("/openapi.json").json()["paths"]
    assert {"/api/v1/identify", "/api/v1/galleries/{gallery}/subjects"} <= set(spec)
    assert "multipart/form-data" in spec["/api/v1/identify"]["post"]["requestBody"]["content"]


class StubLiveness:
    """Test double of LivenessService: a fixed verdict."""

    def __init__(self, spoof: bool) -> None:
        self.spoof = spoof
        self.calls = 0

    def evaluate_capture(self, engine: Any, capture: Any, record: Any = None) -> SimpleNamespace:
        self.calls += 1
        return SimpleNamespace(
            is_spoof=self.spoof,
            insecure=False,
            level_reached=None if self.spoof else "HIGH",
            score=0.05 if self.spoof else 0.9,
            quality_ok=True,
            threshold="HIGH",
        )


def test_sdk_capture_is_searched_only_when_live(
    app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faceproof.crypto.envelope import build_envelope

    services = app.app.state.services  # type: ignore[attr-defined]
    train, test = KNN / "train", KNN / "test"
    assert (
        enrol(
            app, "caps", {"subjectId": "obama", "image": image(train / "obama/obama.jpg")}
        ).status_code
        == 200
    )
    frame = encode(fit(load_rgb(test / "obama_and_biden.jpg"), 640, 480))

    def post(gallery: str = "caps") -> Any:
        token = build_envelope([frame], services.keystore.public_jwk())
        return app.post(
            f"{API}/identify",
            files={"file": ("bdata", token, "application/octet-stream")},
            data={"gallery": gallery, "level": "MEDIUM", "maxResults": "3"},
        )

    live = StubLiveness(spoof=False)
    monkeypatch.setattr(services, "liveness", live)
    j = post().json()
    assert (
        j["code"] == 200 and j["identified"] is True and j["candidates"][0]["subjectId"] == "obama"
    )
    assert live.calls == 1
    err(post("nobody-here"), 404, http=404)  # checked before the capture is opened
    assert live.calls == 1
    spoof = StubLiveness(spoof=True)
    monkeypatch.setattr(services, "liveness", spoof)
    r = post()
    assert (
        r.json()["code"] == 401
        and r.json()["message"] == "FEEDBACK_RETRY"
        and "candidates" not in r.json()
    )


def test_galleries_survive_a_restart_and_are_sealed(
    make_settings: Callable[..., Settings], models_path: Path
) -> None:
    import sqlite3

    from faceproof.api.app import create_app

    settings = make_settings(require_models=True, model_dir=models_path)
    with TestClient(create_app(settings)) as c:
        r = enrol(c, "g", {"subjectId": "rose", "image": image(KNN / "train/rose_leslie/img1.jpg")})
        assert r.status_code == 200
    db = sqlite3.connect(settings.data_dir / "galleries.sqlite3")
    (sealed,) = db.execute("SELECT sealed FROM templates").fetchone()
    db.close()
    assert b"FPT1" not in sealed  # the template is not stored in clear
    with TestClient(create_app(settings)) as c:  # a new worker loads the gallery
        j = identify(
            c, gallery="g", level="MEDIUM", image=image(KNN / "train/rose_leslie/img2.jpg")
        ).json()
        assert j["candidates"][0]["subjectId"] == "rose"
