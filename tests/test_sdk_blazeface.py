"""The SDK decodes BlazeFace exactly as the server does: the same raw model outputs on real
photos (run here by the server's LiteRT) give the same boxes, scores and keypoints through
sdk/src/blazeface.js (Node) as through faceproof.models.blazeface — so the face box the SDK
guides into the challenge oval is the box the server measures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from faceproof.models.blazeface import BlazeFaceDetector, letterbox
from faceproof.pipeline.decode import decode_image
from sdk_node import needs_node, run_support

pytestmark = needs_node


def _images(data_root: Path) -> list[Path]:
    lfw = data_root / "verify" / "lfw"
    picks = sorted(lfw.glob("A*/*_0001.jpg"))[:4]
    multi = sorted((data_root / "misc" / "multi_face").glob("*.jp*g"))[:2]
    return picks + multi


def test_sdk_decoding_matches_the_server(models_path: Path, data_root: Path) -> None:
    det = BlazeFaceDetector(models_path, "short")
    model = det._model
    cases, expected = [], []
    for path in _images(data_root):
        rgb = decode_image(path.read_bytes(), "image").rgb
        h, w = rgb.shape[:2]
        tensor, _ = letterbox(rgb, det.input_size)
        out = model.run(tensor)
        cases.append(
            {
                "width": w,
                "height": h,
                "regressors": out[det._reg_name][0].ravel().tolist(),
                "logits": out[det._cls_name][0, :, 0].ravel().tolist(),
            }
        )
        expected.append(det.detect(rgb))
    got = json.loads(run_support("decode.mjs", {"cases": cases}))
    assert sum(len(e) for e in expected) >= len(cases)  # faces were found at all
    for js, py in zip(got, expected, strict=True):
        assert len(js) == len(py)
        for a, b in zip(js, py, strict=True):
            assert np.allclose(a["box"], b.box, atol=0.05)
            assert abs(a["score"] - b.score) < 1e-5
            assert np.allclose(a["keypoints"], b.keypoints, atol=0.05)
