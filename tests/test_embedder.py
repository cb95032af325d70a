"""MobileFaceNet embedder: the contract (shape, norm, batching, flip) and verification quality.

Quality is measured on LFW View-2 fold 1 (first 40 genuine and 40 impostor pairs) through
detection → mesh + iris five points → similarity alignment → flip-averaged embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.models.mobilefacenet import MobileFaceNetEmbedder

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[1]
LFW = REPO / ".." / "shared" / "data" / "verify"
NEEDED = (
    "face_detection_short_range.tflite",
    "face_detection_full_range.tflite",
    "face_landmark.tflite",
    "iris_landmark.tflite",
    "MobileFaceNet.tflite",
)
# insightface's ArcFace 112×112 template: eyes, nose tip, mouth corners (image left first).
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
N_PAIRS = 40
Aligner = Callable[[str, int], np.ndarray]


def _align(rgb: np.ndarray, five: np.ndarray) -> np.ndarray:
    """Test-only similarity alignment (the real one lives in pipeline/align.py)."""
    m, _ = cv2.estimateAffinePartial2D(five.astype(np.float32), ARCFACE_112, method=cv2.LMEDS)
    assert m is not None
    return np.asarray(cv2.warpAffine(rgb, m, (112, 112), flags=cv2.INTER_LINEAR), np.uint8)


@pytest.fixture(scope="module")
def models(models_path: Path) -> Path:
    missing = [f for f in NEEDED if not (models_path / f).is_file()]
    if missing:
        pytest.skip(f"model files missing in {models_path}: {', '.join(missing)}")
    return models_path


@pytest.fixture(scope="module")
def embedder(models: Path) -> MobileFaceNetEmbedder:
    return MobileFaceNetEmbedder(models)


@pytest.fixture(scope="module")
def aligned(models: Path) -> Aligner:
    """LFW image (person, number) → aligned 112×112 RGB crop."""
    if not (LFW / "pairs-dev.txt").is_file():
        pytest.skip("../shared/data/verify (LFW) is not present on this machine")
    from faceproof.face.record import FaceRecord
    from faceproof.models.blazeface import FaceDetectorSet, most_prominent
    from faceproof.models.facemesh import FaceMeshModel
    from faceproof.models.iris import IrisModel
    from faceproof.pipeline.landmarks import LandmarkStage

    detector = FaceDetectorSet(models)
    stage = LandmarkStage(FaceMeshModel(models), IrisModel(models))

    def crop(person: str, number: int) -> np.ndarray:
        path = LFW / "lfw" / person / f"{person}_{number:04d}.jpg"
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert bgr is not None, path
        rgb = np.ascontiguousarray(bgr[:, :, ::-1], dtype=np.uint8)
        det, _ = most_prominent(detector.detect(rgb, "document"), (rgb.shape[1], rgb.shape[0]))
        assert det is not None, f"no face in {path.name}"
        record = stage.run(rgb, FaceRecord(detection=det))
        assert record.five_points is not None
        return _align(rgb, record.five_points)

    return crop


def test_contract(embedder: MobileFaceNetEmbedder, aligned: Aligner) -> None:
    assert embedder.model_id == "mobilefacenet-expo-1.0.24"
    assert embedder.dimension == 192
    crops = [aligned("Akhmed_Zakayev", i) for i in (1, 2, 3)]
    e = embedder.embed(crops[0])
    assert e.shape == (192,) and e.dtype == np.float32
    assert np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)
    # Batching (pairs, padded) must not change results.
    batch = embedder.embed_batch(crops)
    assert batch.shape == (3, 192)
    single = np.stack([embedder.embed(c) for c in crops])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert embedder.embed_batch([]).shape == (0, 192)
    # Flip averaging is the normalised sum of the crop's and its mirror's embeddings.
    mirror = embedder.embed(np.ascontiguousarray(crops[0][:, ::-1]))
    expected = (e + mirror) / np.linalg.norm(e + mirror)
    np.testing.assert_allclose(embedder.embed_flip(crops[0]), expected, atol=1e-5)
    assert float(e @ mirror) < 0.9999  # the mirror really is a different input


def test_rejects_unaligned_input(embedder: MobileFaceNetEmbedder) -> None:
    with pytest.raises(ValueError):
        embedder.embed(np.zeros((100, 100, 3), np.uint8))


def _fold1_pairs() -> tuple[list[tuple[str, int, str, int]], list[tuple[str, int, str, int]]]:
    lines = (LFW / "pairs-dev.txt").read_text().splitlines()
    folds, per_fold = (int(v) for v in lines[0].split())
    assert folds >= 1
    genuine, impostor = [], []
    for line in lines[1 : 1 + per_fold][:N_PAIRS]:
        name, a, b = line.split("\t")
        genuine.append((name, int(a), name, int(b)))
    for line in lines[1 + per_fold : 1 + 2 * per_fold][:N_PAIRS]:
        n1, a, n2, b = line.split("\t")
        impostor.append((n1, int(a), n2, int(b)))
    return genuine, impostor


def test_lfw_fold1_separates_genuine_from_impostor(
    embedder: MobileFaceNetEmbedder, aligned: Aligner
) -> None:
    from faceproof.error_rates import auc as roc_auc

    genuine, impostor = _fold1_pairs()
    cache: dict[tuple[str, int], np.ndarray] = {}

    def emb(person: str, number: int) -> np.ndarray:
        key = (person, number)
        if key not in cache:
            cache[key] = embedder.embed_flip(aligned(person, number))
        return cache[key]

    def score(pair: tuple[str, int, str, int]) -> float:
        return float(emb(pair[0], pair[1]) @ emb(pair[2], pair[3]))

    gen = np.array([score(p) for p in genuine])
    imp = np.array([score(p) for p in impostor])
    assert len(gen) == len(imp) == N_PAIRS
    assert gen.mean() - imp.mean() > 0.3, (gen.mean(), imp.mean())
    auc = roc_auc(gen, imp)
    assert auc >= 0.95, auc


def test_fused_prelu_graph_is_bit_identical(models: Path, aligned: Aligner) -> None:
    """The embedder's in-memory PReLU fusion computes exactly what the registry file does."""
    from ai_edge_litert import schema_py_generated as schema

    from faceproof.models.graph_rewrite import builtin_code, fuse_decomposed_prelu
    from faceproof.models.runtime import TFLiteModel

    content = (models / "MobileFaceNet.tflite").read_bytes()
    rewritten = fuse_decomposed_prelu(content)
    assert rewritten.fused == 33  # every PReLU of MobileFaceNet
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(rewritten.content, 0))
    codes = {builtin_code(oc) for oc in model.operatorCodes}
    ops = model.subgraphs[0].operators
    used = {builtin_code(model.operatorCodes[op.opcodeIndex]) for op in ops}
    assert schema.BuiltinOperator.PRELU in codes
    assert schema.BuiltinOperator.ABS not in used and schema.BuiltinOperator.SUB not in used

    plain = TFLiteModel(models / "MobileFaceNet.tflite")
    fused = TFLiteModel(models / "MobileFaceNet.tflite", rewrite=lambda c: rewritten.content)
    crops = [aligned("Akhmed_Zakayev", 1), aligned("Akhmed_Zakayev", 2)]
    real = np.stack([MobileFaceNetEmbedder.preprocess(c) for c in crops])
    noise = np.random.default_rng(5).normal(0, 2, real.shape).astype(np.float32)
    name = plain.output(0).name
    for x in (real, noise, -np.abs(noise)):
        a, b = plain.run(x)[name], fused.run(x)[name]
        assert np.array_equal(a, b)
    assert np.abs(plain.run(noise)[name] - plain.run(real)[name]).max() > 0.1  # inputs matter


def test_prelu_fusion_leaves_other_graphs_alone(models: Path) -> None:
    from faceproof.models.graph_rewrite import fuse_decomposed_prelu

    content = (models / "face_landmark.tflite").read_bytes()
    result = fuse_decomposed_prelu(content)
    assert result.fused == 0 and result.content is content


def test_batch_one_graph_matches_the_registry_file(
    models: Path, embedder: MobileFaceNetEmbedder, aligned: Aligner
) -> None:
    """The embedder runs the file rewritten to batch 1; each sample's output equals what the
    registry's batch-2 graph computes for it (bit for bit on XNNPACK, asserted within float
    tolerance), whatever its batch neighbour."""
    from faceproof.models.runtime import TFLiteModel

    assert embedder.batch == 1
    registry = TFLiteModel(models / "MobileFaceNet.tflite")  # unrewritten, batch 2
    assert registry.input().shape[0] == 2
    name = registry.output(0).name
    crops = [aligned("Akhmed_Zakayev", i) for i in (1, 2, 3)]
    x = np.stack([MobileFaceNetEmbedder.preprocess(c) for c in crops])
    noise = np.random.default_rng(7).normal(0, 2, x.shape[1:]).astype(np.float32)
    for a, b in ((x[0], x[1]), (x[2], noise), (noise, x[0])):
        ref = registry.run(np.stack([a, b]))[name]
        for sample, row in ((a, ref[0]), (b, ref[1])):
            raw = embedder._raw(sample[None])[0]
            np.testing.assert_allclose(raw, row, rtol=0, atol=1e-5 * float(np.abs(row).max()))
    # The public entry points agree with it: plain is the first row, normalised.
    first = registry.run(x[:2])[name][0]
    np.testing.assert_allclose(embedder.embed(crops[0]), first / np.linalg.norm(first), atol=1e-6)


def test_embed_faces_by_method(embedder: MobileFaceNetEmbedder, aligned: Aligner) -> None:
    crops = [aligned("Akhmed_Zakayev", i) for i in (1, 2, 3)]
    np.testing.assert_array_equal(embedder.embed_faces(crops, "plain"), embedder.embed_batch(crops))
    flip = embedder.embed_faces(crops, "flip")
    assert flip.shape == (3, 192)
    for row, crop in zip(flip, crops, strict=True):
        np.testing.assert_allclose(row, embedder.embed_flip(crop), atol=1e-6)
        assert float(row @ embedder.embed(crop)) < 0.9999  # flip is not plain
    assert embedder.embed_faces([], "flip").shape == (0, 192)
    with pytest.raises(ValueError, match="unknown embedding method"):
        embedder.embed_faces(crops, "mirror")  # type: ignore[arg-type]


def test_set_batch_refuses_what_it_cannot_prove(models: Path) -> None:
    from faceproof.models.graph_rewrite import set_batch

    content = (models / "MobileFaceNet.tflite").read_bytes()
    assert set_batch(content, 2).content is content  # already batch 2: untouched
    assert set_batch(content, 1).fused == 1  # the one final RESHAPE
    with pytest.raises(ValueError):
        set_batch(content, 0)
    # The same graph whose reshape folds the batch into the features ([2, 192] -> [1, 384]):
    # no longer per-sample, so it must be refused.
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from faceproof.models.graph_rewrite import builtin_code

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    graph = model.subgraphs[0]
    (reshape,) = [
        op
        for op in graph.operators
        if builtin_code(model.operatorCodes[op.opcodeIndex]) == schema.BuiltinOperator.RESHAPE
    ]
    model.buffers[graph.tensors[reshape.inputs[1]].buffer].data = np.array([1, 384], np.int32).view(
        np.uint8
    )
    reshape.builtinOptions.newShape = np.array([1, 384], np.int32)
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(ValueError, match="batch"):
        set_batch(bytes(builder.Output()), 1)


def test_plain_and_flip_embeddings_of_one_image_agree(
    embedder: MobileFaceNetEmbedder, aligned: Aligner
) -> None:
    """Templates made before the switch to plain embeddings are flip-averaged: the same image
    embedded both ways stays far above the strictest threshold (HIGHEST selfie ≈ 0.65), so
    an old template of a photo still matches a new probe of it (docs/matching.md)."""
    genuine, _ = _fold1_pairs()
    crops = [aligned(name, number) for name, number, _, _ in genuine[:10]]
    plain = embedder.embed_faces(crops, "plain")
    flip = embedder.embed_faces(crops, "flip")
    same_image = np.einsum("ij,ij->i", plain, flip)
    assert same_image.min() >= 0.98, same_image
    assert same_image.max() < 0.9999  # they are different vectors
