"""Capture envelope: round trip, freshness (604), replay and every tamper/forgery case (601)."""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwe
from joserfc.jwk import OctKey, RSAKey
from PIL import Image

from faceproof.crypto.envelope import (
    CTY,
    CapturePayload,
    EnvelopeOpener,
    Frame,
    build_envelope,
    new_nonce,
    seal,
)
from faceproof.crypto.keystore import KeyStore
from faceproof.crypto.replay import MemoryNonceStore, NonceStore, SqliteNonceStore
from faceproof.errors import ApiError

NOW = 1_750_000_000_000  # a fixed "server clock" in epoch ms
WINDOW = 120_000


def _image(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """A synthetic, non-biometric test image."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, format=fmt)
    return out.getvalue()


JPEG = _image("JPEG")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("env") / "keys")


@pytest.fixture
def opener(store: KeyStore) -> EnvelopeOpener:
    return EnvelopeOpener(store, MemoryNonceStore(), expiry_seconds=120)


def _payload_bytes(**fields: Any) -> bytes:
    body: dict[str, Any] = {
        "v": 1,
        "nonce": new_nonce(),
        "ts": NOW,
        "frames": [{"jpeg": base64.b64encode(JPEG).decode(), "t": 0, "role": "main"}],
    }
    body.update(fields)
    return json.dumps(body).encode()


def _raw_jwe(
    plaintext: bytes, key: Any, header: dict[str, Any], algorithms: list[str] | None = None
) -> bytes:
    """A JWE made outside our ``seal`` (to forge headers/algorithms/payloads)."""
    algs = algorithms or [header["alg"], header["enc"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns about RSA1_5, which is the point
        return jwe.encrypt_compact(header, plaintext, key, algorithms=algs).encode()


def _header(store: KeyStore, **changes: Any) -> dict[str, Any]:
    header = {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "kid": store.current_kid, "cty": CTY}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def _refusal(opener: EnvelopeOpener, token: bytes, now_ms: int = NOW) -> ApiError:
    with pytest.raises(ApiError) as info:
        opener.open(token, now_ms=now_ms)
    return info.value


def _assert_generic_601(err: ApiError) -> None:
    assert (err.kind.code, err.kind.name, err.kind.http_status) == (
        601,
        "ERROR_DECRYPTION_FAILED",
        400,
    )
    assert err.description == "Decryption failed"
    assert (err.data, err.extra) == (None, {})
    assert str(err) == "601 ERROR_DECRYPTION_FAILED: Decryption failed"
    # Nothing about the failing check travels with the exception.
    assert err.__cause__ is None and err.__context__ is None


# --------------------------------------------------------------------------- round trip


def test_round_trip(store: KeyStore, opener: EnvelopeOpener) -> None:
    png = _image("PNG", (80, 60))
    token = build_envelope(
        [JPEG, png],
        store.public_jwk(),
        options={"enableICAOChecks": True, "requiredTemplates": ["JPEG"], "asThreshold": "HIGH"},
        device={"type": "mobile", "cameraLabel": "Front Camera"},
        ts_ms=NOW - 5000,
        quality={"brightness": 0.5, "stable": True},
    )
    header = json.loads(base64.urlsafe_b64decode(token.split(b".")[0] + b"=="))
    assert header == {
        "alg": "RSA-OAEP-256",
        "enc": "A256CBC-HS512",
        "kid": store.current_kid,
        "cty": CTY,
    }

    payload = opener.open(token, now_ms=NOW)
    assert payload.ts == NOW - 5000 and payload.v == 1
    assert payload.options.enableICAOChecks and payload.options.requiredTemplates == ["JPEG"]
    assert payload.options.asThreshold == "HIGH" and payload.options.enableAs
    assert (payload.device.type, payload.device.cameraLabel) == ("mobile", "Front Camera")
    assert payload.quality == {"brightness": 0.5, "stable": True}
    assert [f.t for f in payload.frames] == [0, 100]
    assert payload.frames[0].data == JPEG  # JPEG passes through unchanged
    with Image.open(io.BytesIO(payload.frames[1].data)) as im:  # PNG re-encoded to JPEG
        assert (im.format, im.size) == ("JPEG", (80, 60))
    assert payload.frames[0].jpeg[:40] not in repr(payload)  # images never in reprs/logs


def test_real_photo_from_path(store: KeyStore, opener: EnvelopeOpener, data_root: Path) -> None:
    photo = next((data_root / "verify" / "extra" / "face_recognition_knn_examples").rglob("*.jpg"))
    token = build_envelope([photo], store.public_jwk(), ts_ms=NOW)
    assert opener.open(token, now_ms=NOW).frames[0].data == photo.read_bytes()


def test_unsupported_images_refused(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="JPEG or PNG"):
        build_envelope([_image("GIF")], store.public_jwk())
    with pytest.raises(ValueError):
        build_envelope([], store.public_jwk())


# --------------------------------------------------------------------------- freshness, replay


@pytest.mark.parametrize("skew_ms", [-WINDOW - 1, WINDOW + 1, -10 * WINDOW, 10 * WINDOW])
def test_stale_or_future_envelope_is_604_and_burns_nothing(
    store: KeyStore, opener: EnvelopeOpener, skew_ms: int
) -> None:
    token = build_envelope([JPEG], store.public_jwk(), ts_ms=NOW + skew_ms)
    err = _refusal(opener, token, now_ms=NOW)
    assert (err.kind.code, err.kind.name, err.kind.http_status) == (
        604,
        "ERROR_REQUEST_EXPIRED",
        500,
    )
    # The expired attempt did not claim the nonce: at a time it is fresh, it opens.
    assert opener.open(token, now_ms=NOW + skew_ms).ts == NOW + skew_ms


@pytest.mark.parametrize("skew_ms", [-WINDOW, WINDOW, 0])
def test_window_edges_are_accepted(store: KeyStore, opener: EnvelopeOpener, skew_ms: int) -> None:
    token = build_envelope([JPEG], store.public_jwk(), ts_ms=NOW + skew_ms)
    assert opener.open(token, now_ms=NOW).ts == NOW + skew_ms


def test_replay_is_601(store: KeyStore, opener: EnvelopeOpener) -> None:
    token = build_envelope([JPEG], store.public_jwk(), ts_ms=NOW)
    opener.open(token, now_ms=NOW)
    _assert_generic_601(_refusal(opener, token, now_ms=NOW + 1000))


def test_replay_across_workers_sharing_sqlite(store: KeyStore, tmp_path: Path) -> None:
    # The real clock here: the SQLite store purges expired nonces by wall-clock time.
    worker_a = EnvelopeOpener(store, SqliteNonceStore(tmp_path / "nonces.db"))
    worker_b = EnvelopeOpener(store, SqliteNonceStore(tmp_path / "nonces.db"))
    token = build_envelope([JPEG], store.public_jwk())
    worker_a.open(token)
    with pytest.raises(ApiError) as info:
        worker_b.open(token)
    _assert_generic_601(info.value)


def _claim_many(path: str, nonces: list[str], barrier: Any, queue: Any) -> None:
    db = SqliteNonceStore(Path(path))
    barrier.wait()
    queue.put([n for n in nonces if db.claim(n, 2**62)])


def test_sqlite_claims_are_atomic_across_processes(tmp_path: Path) -> None:
    nonces = [new_nonce() for _ in range(300)]
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    path = str(tmp_path / "nonces.db")
    SqliteNonceStore(Path(path)).close()  # schema first, so the race is about claims only
    procs = [ctx.Process(target=_claim_many, args=(path, nonces, barrier, queue)) for _ in "abc"]
    for p in procs:
        p.start()
    won = [n for _ in procs for n in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(won) == sorted(nonces)  # every nonce claimed exactly once in total


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_nonce_store_claim_and_purge(tmp_path: Path, kind: str) -> None:
    db: NonceStore = SqliteNonceStore(tmp_path / "n.db") if kind == "sqlite" else MemoryNonceStore()
    assert db.claim("a" * 22, 1000) and db.claim("b" * 22, 5000)
    assert not db.claim("a" * 22, 9999)
    db.purge(2000)  # forgets "a" (expired at 1000), keeps "b"
    assert db.claim("a" * 22, 3000)
    assert not db.claim("b" * 22, 9999)


def test_same_nonce_in_a_new_envelope_is_a_replay(store: KeyStore, opener: EnvelopeOpener) -> None:
    nonce = new_nonce()
    opener.open(build_envelope([JPEG], store.public_jwk(), ts_ms=NOW, nonce=nonce), now_ms=NOW)
    again = build_envelope([JPEG], store.public_jwk(), ts_ms=NOW + 1, nonce=nonce)
    _assert_generic_601(_refusal(opener, again))


# --------------------------------------------------------------------------- tampering, forgery


@pytest.mark.parametrize("part", ["header", "encrypted_key", "iv", "ciphertext", "tag"])
def test_flipped_byte_in_any_part_is_601(
    store: KeyStore, opener: EnvelopeOpener, part: str
) -> None:
    token = build_envelope([JPEG], store.public_jwk(), ts_ms=NOW)
    parts = token.split(b".")
    index = ["header", "encrypted_key", "iv", "ciphertext", "tag"].index(part)
    raw = bytearray(base64.urlsafe_b64decode(parts[index] + b"=="))
    raw[len(raw) // 2] ^= 0x01  # a real bit flip in the decoded bytes, not in padding bits
    parts[index] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=")
    _assert_generic_601(_refusal(opener, b".".join(parts)))
    # The untouched original still opens: the refusal burned nothing.
    assert opener.open(token, now_ms=NOW).ts == NOW


def _forged_tokens(store: KeyStore) -> dict[str, bytes]:
    public = RSAKey.import_key(store.public_key())
    good = _payload_bytes()
    other = RSAKey.import_key(rsa.generate_private_key(65537, 3072).public_key())
    return {
        "RSA1_5": _raw_jwe(good, public, _header(store, alg="RSA1_5")),
        "RSA-OAEP (SHA-1)": _raw_jwe(good, public, _header(store, alg="RSA-OAEP")),
        "dir": _raw_jwe(good, OctKey.generate_key(512), _header(store, alg="dir")),
        "A256GCM": _raw_jwe(good, public, _header(store, enc="A256GCM")),
        "zip": _raw_jwe(
            good, public, _header(store, zip="DEF"), ["RSA-OAEP-256", "A256CBC-HS512", "DEF"]
        ),
        "no cty": _raw_jwe(good, public, _header(store, cty=None)),
        "other cty": _raw_jwe(good, public, _header(store, cty="application/json")),
        "no kid": _raw_jwe(good, public, _header(store, kid=None)),
        "jku member": _raw_jwe(good, public, _header(store, jku="https://evil.example/k")),
        "unknown kid": _raw_jwe(good, other, _header(store, kid=other.thumbprint())),
        "kid of another key": _raw_jwe(good, other, _header(store)),
        "not json": _raw_jwe(b"\x00not json", public, _header(store)),
        "bad base64 frame": _raw_jwe(
            _payload_bytes(frames=[{"jpeg": "!!not*base64", "t": 0}]), public, _header(store)
        ),
        "17 frames": _raw_jwe(
            _payload_bytes(frames=[{"jpeg": base64.b64encode(JPEG).decode()}] * 17),
            public,
            _header(store),
        ),
        "short nonce": _raw_jwe(_payload_bytes(nonce="abc"), public, _header(store)),
        "ts as string": _raw_jwe(_payload_bytes(ts=str(NOW)), public, _header(store)),
        "unknown field": _raw_jwe(_payload_bytes(admin=True), public, _header(store)),
        "version 2": _raw_jwe(_payload_bytes(v=2), public, _header(store)),
        "bad device type": _raw_jwe(_payload_bytes(device={"type": "tv"}), public, _header(store)),
        "truncated": build_envelope([JPEG], store.public_jwk(), ts_ms=NOW)[:-20],
        "four parts": b".".join(build_envelope([JPEG], store.public_jwk()).split(b".")[:4]),
        "garbage": b"definitely not a JWE",
        "empty": b"",
    }


def test_forgeries_all_fail_identically(store: KeyStore, opener: EnvelopeOpener) -> None:
    forged = _forged_tokens(store)
    refusals = {name: _refusal(opener, token) for name, token in forged.items()}
    for err in refusals.values():
        _assert_generic_601(err)
    # Identical from the outside: same code, name, status, description and message.
    views = {(e.kind, e.description, str(e), e.data, repr(e.extra)) for e in refusals.values()}
    assert len(views) == 1


def test_valid_control_for_forgery_helpers(store: KeyStore, opener: EnvelopeOpener) -> None:
    """The forgery helpers produce an accepted token when nothing is wrong with it."""
    public = RSAKey.import_key(store.public_key())
    token = _raw_jwe(_payload_bytes(), public, _header(store, typ="JWE"))
    assert opener.open(token, now_ms=NOW).frames[0].data == JPEG


def test_size_limits(store: KeyStore) -> None:
    token = build_envelope([JPEG], store.public_jwk(), ts_ms=NOW)
    small = EnvelopeOpener(store, MemoryNonceStore(), max_token_bytes=len(token) - 1)
    _assert_generic_601(_refusal(small, token))
    tiny_frames = EnvelopeOpener(store, MemoryNonceStore(), max_frame_bytes=len(JPEG) - 1)
    _assert_generic_601(_refusal(tiny_frames, token))
    huge = b"e" * (20 * 1024 * 1024 + 1)
    _assert_generic_601(_refusal(EnvelopeOpener(store, MemoryNonceStore()), huge))
    # And the same token passes an opener whose limits fit it exactly.
    fits = EnvelopeOpener(
        store, MemoryNonceStore(), max_token_bytes=len(token), max_frame_bytes=len(JPEG)
    )
    assert fits.open(token, now_ms=NOW).frames[0].data == JPEG


# --------------------------------------------------------------------------- key rotation


def test_old_kid_accepted_during_grace_only(tmp_path: Path) -> None:
    t0 = NOW / 1000
    store = KeyStore.open(tmp_path / "keys", grace_seconds=3600, now=t0)
    old_jwk = store.public_jwk()
    opener = EnvelopeOpener(store, MemoryNonceStore())
    store.rotate(now=t0 + 10)

    in_grace = NOW + 3_000_000  # 3000 s after the rotation, grace is 3600 s
    token = build_envelope([JPEG], old_jwk, ts_ms=in_grace)
    assert opener.open(token, now_ms=in_grace).ts == in_grace

    after = NOW + 3_700_000  # 3690 s after the rotation
    late = build_envelope([JPEG], old_jwk, ts_ms=after)
    _assert_generic_601(_refusal(opener, late, now_ms=after))
    fresh = build_envelope([JPEG], store.public_jwk(), ts_ms=after)
    assert opener.open(fresh, now_ms=after).ts == after


def test_seal_accepts_models_directly(store: KeyStore, opener: EnvelopeOpener) -> None:
    frame = Frame(jpeg=base64.b64encode(JPEG).decode())
    payload = CapturePayload(nonce=new_nonce(), ts=NOW, frames=[frame])
    assert opener.open(seal(payload, store.public_jwk()), now_ms=NOW).nonce == payload.nonce


# --------------------------------------------------------------------------- CLI


class _PubKeyHandler(BaseHTTPRequestHandler):
    body = b""

    def do_POST(self) -> None:
        if self.path != "/api/v1/pub_key":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pub_key_server(store: KeyStore) -> Iterator[str]:
    body = {"kid": store.current_kid, "jwk": store.public_jwk(), "spki": store.public_spki_b64()}
    handler = type("H", (_PubKeyHandler,), {"body": json.dumps(body).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cli_make_from_server_and_local_store(
    store: KeyStore, opener: EnvelopeOpener, pub_key_server: str, tmp_path: Path
) -> None:
    from faceproof.cli.envelope import envelope

    image = tmp_path / "pattern.png"
    image.write_bytes(_image("PNG", (640, 480)))  # synthetic, non-biometric; a capture's size
    runner = CliRunner()
    out = tmp_path / "env.jwe"
    common = [str(image), "--ts-ms", str(NOW), "--camera-label", "OBS Virtual Camera"]
    opts = ["--option", "enableICAOChecks=true", "--option", "requiredTemplates=JPEG,PNG"]
    result = runner.invoke(
        envelope, ["make", *common, *opts, "--server", pub_key_server, "-o", out]
    )
    assert result.exit_code == 0, result.output
    payload = opener.open(out.read_bytes(), now_ms=NOW)
    assert payload.options.enableICAOChecks and payload.options.requiredTemplates == ["JPEG", "PNG"]
    assert (payload.device.type, payload.device.cameraLabel) == ("desktop", "OBS Virtual Camera")

    data_dir = store.directory.parent  # the store lives in <data_dir>/keys
    result = runner.invoke(envelope, ["make", *common, "--data-dir", str(data_dir), "-o", "-"])
    assert result.exit_code == 0, result.output
    assert opener.open(result.output.strip(), now_ms=NOW).frames[0].data[:3] == b"\xff\xd8\xff"

    bad = runner.invoke(envelope, ["make", str(image), "--option", "nope=1", "-o", "-"])
    assert bad.exit_code != 0 and "nope" in bad.output
