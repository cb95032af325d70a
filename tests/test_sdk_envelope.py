"""The SDK's envelope module (sdk/src/envelope.js, run by Node with its WebCrypto) seals
payloads the server's opener accepts — and the opener still refuses a tampered one."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import pytest
from PIL import Image

from faceproof.crypto.envelope import EnvelopeOpener, new_nonce
from faceproof.crypto.keystore import KeyStore
from faceproof.crypto.replay import MemoryNonceStore
from faceproof.errors import ApiError
from sdk_node import needs_node, run_support

pytestmark = needs_node


def _jpeg(size: tuple[int, int]) -> bytes:
    """A synthetic, non-biometric image."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.open(tmp_path_factory.mktemp("sdkenv") / "keys")


def _seal_with_sdk(store: KeyStore, payload: dict[str, Any]) -> str:
    pub = {"kid": store.current_kid, "jwk": store.public_jwk()}
    return run_support("seal.mjs", {"pub": pub, "payload": payload})


def _payload(frames: list[bytes]) -> dict[str, Any]:
    return {
        "v": 1,
        "nonce": new_nonce(),
        "ts": int(time.time() * 1000),
        "frames": [
            {"jpeg": base64.b64encode(f).decode(), "t": 40 * i, "role": "main" if i == 0 else "far"}
            for i, f in enumerate(frames)
        ],
        "options": {
            "enableAs": True,
            "asThreshold": "HIGH",
            "requiredTemplates": ["JPEG"],
            "enableICAOChecks": False,
            "enableBackgroundRemoval": True,
            "backgroundColor": "#12aBCd",
            "returnQualityMetadata": True,
            "enableEyesStatusDetector": True,
        },
        "device": {
            "type": "desktop",
            "cameraLabel": "Integrated Camera",
            "userAgent": "x",
            "platform": "Linux",
            # protocol v2: MediaStreamTrack settings and the SDK's flags (sdk/src/device.js)
            "track": {"width": 640, "height": 480, "frameRate": 30, "facingMode": "user"},
            "flags": ["webdriver", "headless_user_agent"],
        },
        "quality": {"quality_metric": 81, "eyes_status": "OPEN", "head_pose_check": True},
        "challenge": {"id": "abc", "light_start_t": 1200},
        "sdkVersion": "faceproof-web-sdk/0.1.0",
    }


def test_sdk_envelope_opens_on_the_server(store: KeyStore) -> None:
    frames = [_jpeg((64, 48)), _jpeg((80, 60))]
    payload = _payload(frames)
    token = _seal_with_sdk(store, payload)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {
        "alg": "RSA-OAEP-256",
        "enc": "A256CBC-HS512",
        "kid": store.current_kid,
        "cty": "application/vnd.faceproof.capture+json",
    }
    opened = EnvelopeOpener(store, MemoryNonceStore()).open(token)
    assert opened.nonce == payload["nonce"]
    assert [f.data for f in opened.frames] == frames
    assert [f.t for f in opened.frames] == [0, 40]
    assert opened.options.backgroundColor == "#12aBCd"
    assert opened.options.requiredTemplates == ["JPEG"]
    assert opened.challenge == {"id": "abc", "light_start_t": 1200}
    assert opened.quality["quality_metric"] == 81
    assert opened.device.track == payload["device"]["track"]
    assert opened.device.flags == ["webdriver", "headless_user_agent"]


def test_sdk_envelope_tampering_is_refused(store: KeyStore) -> None:
    token = _seal_with_sdk(store, _payload([_jpeg((64, 48))]))
    parts = token.split(".")
    ct = bytearray(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    ct[-1] ^= 1
    parts[3] = base64.urlsafe_b64encode(bytes(ct)).decode().rstrip("=")
    with pytest.raises(ApiError):
        EnvelopeOpener(store, MemoryNonceStore()).open(".".join(parts))


def test_sdk_envelope_fresh_key_material_each_time(store: KeyStore) -> None:
    payload = _payload([_jpeg((64, 48))])
    a, b = _seal_with_sdk(store, payload), _seal_with_sdk(store, payload)
    # Same payload, different content key and IV: every part but the header differs.
    assert a.split(".")[0] == b.split(".")[0]
    assert all(x != y for x, y in zip(a.split(".")[1:], b.split(".")[1:], strict=True))
