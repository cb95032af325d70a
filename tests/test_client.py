"""faceproof.client against a real `faceproof serve` process: every endpoint, sync and async,
typed results and typed errors (code, name, HTTP status, refid as the server sent them)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import DATA
from faceproof.client import (
    AsyncFaceproofClient,
    DecryptionFailed,
    FaceproofClient,
    FrameSizeError,
    InvalidImage,
    InvalidMatchLevel,
    NotFound,
    ServerBusy,
    ServerError,
    TooManyAttempts,
    TransportError,
    WrongResolution,
)
from faceproof.client.errors import (
    BY_NAME,
    FaceproofError,
    error_from_answer,
    retry_after_seconds,
)
from faceproof.errors import catalogue
from live_server import live_server
from test_serve_cli import _free_port

LIVE = DATA / "pad/live/silentface__image_T1.jpg"  # a 640×480 webcam selfie (Apache-2.0 source)
PORTRAIT = DATA / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg"  # 565×800 portrait
NO_FACE = DATA / "misc/no_face/skimage__brick.png"
LFW = DATA / "verify/lfw"
SAME = (LFW / "Abel_Pacheco/Abel_Pacheco_0001.jpg", LFW / "Abel_Pacheco/Abel_Pacheco_0004.jpg")
OTHER = LFW / "Dean_Barker/Dean_Barker_0001.jpg"


def test_every_documented_error_name_has_its_class() -> None:
    missing = sorted({k.name for k in catalogue()} - set(BY_NAME))
    assert not missing, f"faceproof.client.errors.BY_NAME lacks {missing}"
    err = error_from_answer(
        400,
        {"code": 503, "feedbackCode": "ERROR_INVALID_IMAGE", "refid": "W-x", "description": "d"},
    )
    assert isinstance(err, InvalidImage)
    assert (err.code, err.name, err.http_status, err.refid) == (
        503,
        "ERROR_INVALID_IMAGE",
        400,
        "W-x",
    )
    assert isinstance(error_from_answer(502, "<html>"), TransportError)


def test_refusals_carry_retry_after_and_a_capture_is_never_resent() -> None:
    # A mock transport: /challenge rate-limited, /process busy (the server's documented bodies).
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path.endswith("/challenge"):
            body = {"code": 429, "message": "ERROR_TOO_MANY_REQUESTS", "refid": "W-1"}
            return httpx.Response(429, json=body, headers={"Retry-After": "7"})
        body = {"code": 500, "message": "ERROR_SERVER_BUSY", "refid": "W-2"}
        return httpx.Response(503, json=body, headers={"Retry-After": "1"})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    with FaceproofClient("http://faceproof.test", http=http) as fp:
        with pytest.raises(TooManyAttempts) as limited:
            fp.challenge()
        assert (limited.value.code, limited.value.http_status) == (429, 429)
        assert limited.value.retry_after == 7
        with pytest.raises(ServerBusy) as busy:
            fp.process(b"sealed envelope bytes")
        assert (busy.value.code, busy.value.http_status, busy.value.retry_after) == (500, 503, 1)
    assert sent == ["/api/v1/challenge", "/api/v1/process"]  # one call each: no re-send
    http.close()
    plain = error_from_answer(400, {"code": 503, "message": "ERROR_INVALID_IMAGE"}, {})
    assert plain.retry_after is None
    dated = error_from_answer(
        503, {"code": 500, "message": "ERROR_SERVER_BUSY"}, {"Retry-After": "garbage"}
    )
    assert isinstance(dated, ServerBusy) and dated.retry_after is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 1, 21, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds("Tue, 01 Dec 2026 21:01:30 GMT", now) == 90
    assert retry_after_seconds("Tue, 01 Dec 2026 20:00:00 GMT", now) == 0
    assert [retry_after_seconds(v, now) for v in (None, "", "-5", "soon")] == [None] * 4


def test_unreachable_server_is_a_transport_error() -> None:
    with (
        FaceproofClient(f"http://127.0.0.1:{_free_port()}", timeout=5) as fp,
        pytest.raises(TransportError),
    ):
        fp.health()


def test_capture_frames_are_checked_before_sending() -> None:
    with FaceproofClient("http://127.0.0.1:1") as fp:  # never reached: refused locally
        fp._jwk = {"kty": "RSA"}  # no key fetch either
        with pytest.raises(FrameSizeError, match="565×800"):
            fp.seal([PORTRAIT])
        with pytest.raises(TypeError, match="pass \\[image\\]"):
            fp.process(LIVE.read_bytes())


@pytest.fixture(scope="module")
def fp(models_path: Path, data_root: Path) -> FaceproofClient:
    client = FaceproofClient(live_server().url, timeout=300)
    return client


def test_utility_endpoints(fp: FaceproofClient) -> None:
    health = fp.health()
    assert health.ok and health.models["status"] == "ready"
    assert health.refid.startswith("W-face-health-")
    key = fp.pub_key()
    assert key.kid == health.kid == key.jwk["kid"] and key.alg == "RSA-OAEP-256"
    assert abs(fp.server_time() - time.time() * 1000) < 60_000
    assert fp.models()[:4] == b"FPMB"
    ch = fp.challenge()
    assert ch.code == 200 and ch.message == "CHALLENGE_ISSUED" and ch.challenge.nonce


def test_process_seals_images_and_returns_the_documented_answer(fp: FaceproofClient) -> None:
    answer = fp.process([LIVE], options={"requiredTemplates": ["JPEG"]})
    assert (answer.code, answer.message) == (200, "FEEDBACK_CAPTURED")
    assert answer.refid.startswith("W-face-process-")
    assert {answer.data.width, answer.data.height} == {640, 480}
    assert answer.data.templates is not None and set(answer.data.templates) == {"JPEG"}
    assert answer.data.quality is not None and 0 <= answer.data.quality.quality_metric <= 100


def test_a_sealed_envelope_is_sent_as_is_and_only_once(fp: FaceproofClient) -> None:
    token = fp.seal([LIVE])
    first = fp.secure_liveness(token)
    assert 0.0 <= first.score <= 1.0 and first.refid.startswith("W-face-antispoof-")
    with pytest.raises(DecryptionFailed) as info:
        fp.secure_liveness(token)  # the nonce is single-use
    assert (info.value.code, info.value.http_status) == (601, 400)


def test_fit_letterboxes_and_the_server_accepts_it(fp: FaceproofClient) -> None:
    answer = fp.process([PORTRAIT], fit=True, options={"enableAs": False})
    assert (answer.data.width, answer.data.height) == (480, 640)


def test_server_refusal_of_a_frame_size_is_typed(fp: FaceproofClient) -> None:
    from faceproof.crypto.envelope import build_envelope

    token = build_envelope([PORTRAIT], fp.pub_key().jwk)  # bypasses the client's own check
    with pytest.raises(WrongResolution) as info:
        fp.process(token)
    assert (info.value.code, info.value.name) == (901, "ERROR_WRONG_RESOLUTION")
    assert info.value.refid and info.value.refid.startswith("W-face-process-")


def test_liveness_of_a_third_party_image_and_its_errors(fp: FaceproofClient) -> None:
    live = fp.liveness(LIVE, "BALANCED_VERY_HIGH")
    assert 0.0 <= live.score <= 1.0 and live.error == 0
    with pytest.raises(InvalidImage) as info:
        fp.liveness(NO_FACE, "BALANCED_VERY_HIGH")
    err = info.value
    assert (err.code, err.name, err.http_status) == (503, "ERROR_INVALID_IMAGE", 400)
    assert err.refid and err.refid.startswith("W-face-antispoof-")


def test_generate_template(fp: FaceproofClient) -> None:
    answer = fp.generate_template(PORTRAIT, "ENROL")
    assert answer.code == 200 and "FACEPROOF_T1" in answer.data.templates
    assert (answer.data.width, answer.data.height) == (565, 800)


def test_matching(fp: FaceproofClient) -> None:
    same = fp.match_with_selfie(*SAME, "MEDIUM")
    other = fp.match_with_selfie(SAME[0], OTHER, "MEDIUM")
    assert same.feedbackCode == "FEEDBACK_MATCHED" and 0 <= same.similarityScore <= 100
    assert same.similarityScore > other.similarityScore
    assert same.possibleMatch and not other.possibleMatch
    by_id = fp.match_with_picture_id(*SAME, "LOW")
    assert by_id.refid.startswith("W-face-MATCH121-")
    with pytest.raises(InvalidMatchLevel) as info:
        fp.match_with_selfie(*SAME, "SOMEWHAT")
    assert info.value.code == 505
    verified = fp.verify_with_picture_id([LIVE], LIVE, "LOW")
    assert verified.possibleMatch and verified.refid.startswith("W-face-VERIFY-")


def test_identification(fp: FaceproofClient) -> None:
    gallery = f"client-test-{int(time.time())}"
    try:
        enrolled = fp.enrol(gallery, "tom", image=PORTRAIT)  # passes the ENROL quality gate
    except ServerError as exc:
        if "identification is not available" in exc.description:
            pytest.skip("this server has no identification service wired in yet")
        raise
    assert enrolled.created and enrolled.gallery == gallery and enrolled.subjectId == "tom"
    template = fp.generate_template(PORTRAIT).data.templates["FACEPROOF_T1"]
    assert fp.enrol(gallery, "tom-t", template=template).created
    assert fp.subjects(gallery).total == 2
    found = fp.identify(gallery, "LOW", image=PORTRAIT)
    assert found.candidates and found.candidates[0].subjectId in {"tom", "tom-t"}
    assert fp.delete_subject(gallery, "tom").templatesDeleted == 1
    assert fp.delete_gallery(gallery).templatesDeleted == 1
    with pytest.raises(NotFound):
        fp.identify(gallery, "LOW", image=PORTRAIT)


def test_async_client(fp: FaceproofClient) -> None:
    async def run() -> None:
        async with AsyncFaceproofClient(live_server().url, timeout=300) as afp:
            health, same = await asyncio.gather(
                afp.health(), afp.match_with_selfie(*SAME, "MEDIUM")
            )
            assert health.ok and same.possibleMatch
            answer = await afp.process([LIVE])
            assert answer.message == "FEEDBACK_CAPTURED"
            with pytest.raises(InvalidImage):
                await afp.liveness(NO_FACE, "HIGH")
            with pytest.raises(FaceproofError):
                await afp.secure_liveness(b"not.a.valid.jwe.token")

    asyncio.run(run())


#: Every API operation → the client method that calls it.
CLIENT_METHODS = {
    ("post", "/api/v1/pub_key"): "pub_key",
    ("post", "/api/v1/models"): "models",
    ("post", "/api/v1/time"): "server_time",
    ("get", "/api/v1/face_health"): "health",
    ("post", "/api/v1/challenge"): "challenge",
    ("post", "/api/v1/process"): "process",
    ("post", "/api/v1/secure/face/as"): "secure_liveness",
    ("post", "/api/v1/verifyWithPictureId"): "verify_with_picture_id",
    ("post", "/api/v1/face/as"): "liveness",
    ("post", "/api/v1/face/generateTemplateFromImage"): "generate_template",
    ("post", "/api/v1/matchWithSelfie"): "match_with_selfie",
    ("post", "/api/v1/matchWithPictureId"): "match_with_picture_id",
    ("post", "/api/v1/galleries/{gallery}/subjects"): "enrol",
    ("get", "/api/v1/galleries/{gallery}/subjects"): "subjects",
    ("delete", "/api/v1/galleries/{gallery}/subjects/{subjectId}"): "delete_subject",
    ("delete", "/api/v1/galleries/{gallery}"): "delete_gallery",
    ("post", "/api/v1/identify"): "identify",
}


def test_the_client_covers_every_api_operation_of_the_openapi(client: object) -> None:
    """A new endpoint under /api/v1 fails here until the client (and CLIENT_METHODS) has it."""
    import inspect

    spec = client.app.openapi()  # type: ignore[attr-defined]
    operations = {
        (method, path)
        for path, ops in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method in ops
    }
    assert operations == set(CLIENT_METHODS)
    for name in CLIENT_METHODS.values():
        sync, aio = getattr(FaceproofClient, name), getattr(AsyncFaceproofClient, name)
        assert inspect.iscoroutinefunction(aio) and not inspect.iscoroutinefunction(sync)
        assert inspect.signature(sync).parameters.keys() == inspect.signature(aio).parameters.keys()
