"""The identity check between a challenge capture's frames: how similar one person's frames
are, and how often two different people reach the threshold, per embedding rule.

    python bench/challenge_identity.py [--step 2] [--captures 12] [--impostors 400]

The check (``faceproof.liveness.service``, docs/liveness.md "one identity") refuses a
capture when any two of its frames' embeddings have a cosine similarity below
``IDENTITY_MIN``. Four rules are compared: the MobileFaceNet embedding flip-averaged (crop and
mirror, one inference per face) or plain (two faces per inference), of the face aligned by
the iris model's eye centres or by the mesh's eye outlines (what a frame that skips the iris
model has).

Printed:

* **one session**: every pair of frames of the live webcam clip (``apfol__real2__live``:
  one person, turning ±35° and moving; every ``--step``-th frame): min, 0.1 %, 1 % and median
  similarity;
* **challenge captures**: ``--captures`` answers built like ``tests/challenge_capture.py``
  (challenge ``i`` drawn from ``random.Random(i)``; frames moved into the ovals, screen
  light simulated, JPEG): how far the light frames'
  tracked meshes are from the meshes detection and two passes give; per capture the minimum pair
  similarity, with the frames' faces found as the service finds them now (far/near
  detected, light frames tracked, no iris) and, for the iris rules, as before (every frame
  detected, iris);
* **different people**: the first ``--impostors`` different-person pairs of the LFW dev pairs
  file: the share whose similarity reaches ``IDENTITY_MIN`` (a person swapped between frames
  that the check would miss), and the largest.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imaging import DATA, LIVE_VIDEO, decode, load_rgb, video_frames  # noqa: E402

RULES = ("flip, iris", "plain, iris", "flip, mesh", "plain, mesh")


def embed(engine: Any, faces: list[tuple[np.ndarray, Any]], rule: str) -> np.ndarray:
    from faceproof.pipeline.align import similarity_align
    from faceproof.pipeline.landmarks import five_points_from

    method, align = rule.split(", ")
    crops = []
    for rgb, rec in faces:
        lm = rec.landmarks
        if align == "iris" and lm.iris is None:
            raise ValueError("no iris on this record")
        pts = five_points_from(lm.mesh, lm.iris if align == "iris" else None)
        crops.append(similarity_align(rgb, pts, 112))
    return np.asarray(engine.embedder.embed_faces(crops, method))


def grey_crop(rgb: np.ndarray, rec: Any) -> np.ndarray:
    """The face aligned by the mesh (as the identity check aligns it), grey, the inner
    80×88 pixels, zero-mean and unit-norm: the dot product of two is their NCC."""
    import cv2

    from faceproof.pipeline.align import similarity_align
    from faceproof.pipeline.landmarks import five_points_from

    crop = similarity_align(rgb, five_points_from(rec.landmarks.mesh), 112)
    g = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float64)[16:104, 16:96]
    g -= g.mean()
    return np.asarray(g / (np.linalg.norm(g) + 1e-9))


def pair_sims(e: np.ndarray) -> np.ndarray:
    return np.array([float(a @ b) for a, b in itertools.combinations(e, 2)])


def session(engine: Any, step: int) -> None:
    frames = video_frames(LIVE_VIDEO, step, 10_000)
    faces = []
    for rgb in frames:
        rec, _ = engine.analyse(rgb, "selfie")
        if rec is not None and rec.landmarks is not None:
            faces.append((rgb, rec))
    print(f"one session: {len(faces)} frames of {LIVE_VIDEO.name} (every {step}th), all pairs")
    print(f"  {'rule':12s} {'min':>7s} {'0.1 %':>7s} {'1 %':>7s} {'median':>7s}")
    for rule in RULES:
        s = pair_sims(embed(engine, faces, rule))
        q = np.quantile(s, [0.001, 0.01, 0.5])
        print(f"  {rule:12s} {s.min():7.3f} {q[0]:7.3f} {q[1]:7.3f} {q[2]:7.3f}")


class _Capture:
    """What ``LivenessService._frame_records`` reads of an opened capture."""

    def __init__(self, payload: Any, rgbs: list[np.ndarray]) -> None:
        self.payload = payload
        self.frames = [_Frame(x) for x in rgbs]
        self.main = self.frames[0]


class _Frame:
    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb, self.width, self.height = rgb, rgb.shape[1], rgb.shape[0]


def captures(engine: Any, n: int) -> None:
    from challenge_capture import answer
    from faceproof.liveness import challenge as chl
    from faceproof.liveness.service import LivenessService

    mins: dict[str, list[float]] = {f"{r} ({how})": [] for r in RULES for how in ("now", "before")}
    mesh_gap: list[float] = []  # light frames: tracked mesh vs detected two-pass mesh
    ncc: list[float] = []  # successive light frames: grey NCC of the aligned faces
    for seed in range(n):
        ch = chl.draw_challenge(0, chl.TTL_MS, random.Random(seed)).public()  # type: ignore[arg-type]
        ans = answer(engine, ch, seed=seed)
        payload = ans.payload()
        rgbs = [decode(base64.b64decode(f.jpeg)) for f in payload.frames]
        main, _ = engine.analyse(rgbs[0], "selfie")
        now = LivenessService._frame_records(engine, _Capture(payload, rgbs), main)
        before = [engine.analyse(x, "selfie")[0] for x in rgbs]
        assert now is not None and all(r is not None for r in before)
        for i, role in enumerate(f.role for f in payload.frames):
            if role == chl.LIGHT_ROLE:
                lm_now, lm_before = now[i].landmarks, before[i].landmarks
                assert lm_now is not None and lm_before is not None
                tracked, detected = lm_now.mesh[:, :2], lm_before.mesh[:, :2]
                spread = float(np.sqrt(((detected - detected.mean(axis=0)) ** 2).sum(1).mean()))
                mesh_gap.append(float(np.sqrt(((tracked - detected) ** 2).sum(1).mean())) / spread)
                if payload.frames[i - 1].role == chl.LIGHT_ROLE:
                    a, b = grey_crop(rgbs[i - 1], now[i - 1]), grey_crop(rgbs[i], now[i])
                    ncc.append(float((a * b).sum()))
        for rule in RULES:
            for how, recs in (("now", list(now.values())), ("before", before)):
                faces = list(zip(rgbs, recs, strict=True))
                if how == "now" and "iris" in rule:
                    continue  # the frames have no iris now
                mins[f"{rule} ({how})"].append(float(pair_sims(embed(engine, faces, rule)).min()))
    print(
        f"\nchallenge captures: {n} answers; light frames ({len(mesh_gap)}): tracked mesh vs the "
        "detected two-pass mesh, RMS distance over the face's RMS spread: median "
        f"{np.median(mesh_gap):.4f}, max {max(mesh_gap):.4f}"
    )
    print(
        f"successive light frames ({len(ncc)}): grey NCC of the mesh-aligned faces: min "
        f"{min(ncc):.3f}, median {np.median(ncc):.3f} (a continuity test in place of embeddings)"
    )
    print(f"challenge captures: {n} answers (~{len(rgbs)} frames each), min pair similarity")
    print(f"  {'rule (frames found)':24s} {'min':>7s} {'median':>7s} {'max':>7s}")
    for name, v in mins.items():
        if v:
            print(f"  {name:24s} {min(v):7.3f} {float(np.median(v)):7.3f} {max(v):7.3f}")


def impostors(engine: Any, count: int, threshold: float) -> None:
    from faceproof.matching.pairs import read_pairs

    root = DATA / "verify" / "lfw"
    pairs = [p for p in read_pairs(DATA / "verify" / "pairs-dev.txt") if not p.same][:count]
    cache: dict[str, Any] = {}

    def face(rel: str) -> Any:
        if rel not in cache:
            rgb = load_rgb(root / rel)
            rec, _ = engine.analyse(rgb, "document")
            cache[rel] = None if rec is None else (rgb, rec)
        return cache[rel]

    usable = [(face(p.a), face(p.b)) for p in pairs]
    usable = [(a, b) for a, b in usable if a is not None and b is not None]
    if not usable:
        return
    print(f"\ndifferent people: {len(usable)} LFW dev pairs with both faces found")
    print(f"  {'rule':12s} {'>= ' + str(threshold):>8s} {'max':>7s} {'99 %':>7s}")
    for rule in RULES:
        e = [embed(engine, [a, b], rule) for a, b in usable]
        s = np.array([float(x[0] @ x[1]) for x in e])
        print(
            f"  {rule:12s} {100 * np.mean(s >= threshold):7.2f}% {s.max():7.3f} "
            f"{np.quantile(s, 0.99):7.3f}"
        )
    impostor_ncc(usable)


def impostor_ncc(usable: list[tuple[Any, Any]]) -> None:
    s = np.array([float((grey_crop(*a) * grey_crop(*b)).sum()) for a, b in usable])
    print(
        f"  grey NCC of the mesh-aligned faces (the continuity test): max {s.max():.3f}, "
        f"99 % {np.quantile(s, 0.99):.3f}, median {np.median(s):.3f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--step", type=int, default=2, help="every n-th frame of the live clip")
    ap.add_argument("--captures", type=int, default=12)
    ap.add_argument("--impostors", type=int, default=400)
    args = ap.parse_args()
    from faceproof.liveness.challenge import IDENTITY_MIN
    from faceproof.pipeline.engine import FaceEngine

    engine = FaceEngine(Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models")))
    steps: list[Callable[[], None]] = [
        lambda: session(engine, args.step),
        lambda: captures(engine, args.captures),
        lambda: impostors(engine, args.impostors, IDENTITY_MIN),
    ]
    print(f"IDENTITY_MIN = {IDENTITY_MIN}")
    for run in steps:
        run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
