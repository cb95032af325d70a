"""What a match face's landmark work costs, and what cheaper alignment points would change.

    python bench/match_landmarks.py [--folds 3 4] [--limit N]

A match aligns each face on five points: the iris model's eye centres (two iris inferences)
after two face-mesh passes (detector ROI, then MediaPipe's mesh ROI). On the LFW dev pairs
(``../shared/data/verify/pairs-dev.txt``, the folds the shipped calibration held out) this
embeds every face four ways, from the same detection and the same plain MobileFaceNet:

* ``current``: two mesh passes + iris eye centres (what the server does);
* ``no iris``: two mesh passes, eye centres from the mesh's eye outlines;
* ``one mesh pass``: the detector-ROI mesh + iris on it;
* ``one pass, no iris``: the detector-ROI mesh alone.

Printed: the CPU per face of each landmark stage (thread time, one LiteRT thread), each
variant's cosine to the current embedding, and per variant its equal error rate and its
FRR at a threshold set on its own impostor pairs at FAR 1:100 (the only level these few
impostor pairs support). A variant is only a candidate: the server's calibrations are fitted
on the current points, so adopting one means refitting them (docs/matching.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from faceproof.error_rates import threshold_at_accept_rate
from faceproof.matching.evaluation import equal_error_rate
from faceproof.matching.pairs import parse_pairs
from faceproof.models.facemesh import detection_roi
from faceproof.pipeline.align import similarity_align
from faceproof.pipeline.decode import decode_image
from faceproof.pipeline.engine import FaceEngine
from faceproof.pipeline.landmarks import five_points_from

REPO = Path(__file__).resolve().parents[1]
VERIFY = REPO / ".." / "shared" / "data" / "verify"
VARIANTS = ("current", "no iris", "one mesh pass", "one pass, no iris")
STAGES = ("mesh pass 1", "mesh pass 2", "iris (both eyes)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--folds", type=int, nargs="*", default=[3, 4])
    ap.add_argument("--limit", type=int, default=0, help="at most this many pairs (0: all)")
    args = ap.parse_args()
    model_dir = Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models"))
    engine = FaceEngine(model_dir)
    mesh, iris = engine.landmark_stage.mesh, engine.landmark_stage.iris
    if iris is None or not hasattr(mesh, "run_roi"):
        raise SystemExit("needs the face-mesh and iris models")
    pairs = [p for p in parse_pairs((VERIFY / "pairs-dev.txt").read_text()) if p.fold in args.folds]
    if args.limit:
        pairs = pairs[: args.limit]
    images = sorted({p.a for p in pairs} | {p.b for p in pairs})
    cpu = dict.fromkeys(STAGES, 0)
    vectors: dict[str, dict[str, np.ndarray]] = {v: {} for v in VARIANTS}

    def embed(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        crop = similarity_align(rgb, points, 112)
        return engine.embedder.embed_faces([crop], engine.embedding_method)[0]

    for rel in images:
        rgb = decode_image((VERIFY / "lfw" / rel).read_bytes(), field=rel).rgb
        main = engine.find_faces(rgb, "selfie").main
        if main is None:
            continue
        t = time.thread_time_ns()
        first = mesh.run_roi(rgb, detection_roi(main))
        cpu["mesh pass 1"] += time.thread_time_ns() - t
        t = time.thread_time_ns()
        second = mesh.refine_from_mesh(rgb, first)
        cpu["mesh pass 2"] += time.thread_time_ns() - t
        t = time.thread_time_ns()
        eyes, _ = iris.run(rgb, second.mesh)
        cpu["iris (both eyes)"] += time.thread_time_ns() - t
        eyes_first, _ = iris.run(rgb, first.mesh)
        vectors["current"][rel] = embed(rgb, five_points_from(second.mesh, eyes))
        vectors["no iris"][rel] = embed(rgb, five_points_from(second.mesh))
        vectors["one mesh pass"][rel] = embed(rgb, five_points_from(first.mesh, eyes_first))
        vectors["one pass, no iris"][rel] = embed(rgb, five_points_from(first.mesh))

    faces = len(vectors["current"])
    usable = [p for p in pairs if p.a in vectors["current"] and p.b in vectors["current"]]
    same = np.array([p.same for p in usable])
    print(
        f"load average {os.getloadavg()[0]:.1f}; {faces} faces of {len(images)} images, "
        f"{len(usable)} pairs ({int(same.sum())} genuine), folds {args.folds}"
    )
    for stage, ns in cpu.items():
        print(f"  {stage:18s} {ns / max(faces, 1) / 1e6:5.2f} ms CPU per face")
    print(
        f"{'variant':18s} {'cos to current: mean':>21s} {'5th pct':>8s} {'min':>7s}"
        f" {'EER %':>6s} {'FRR % at FAR 1:100':>19s}"
    )
    if same.all() or not same.any():
        raise SystemExit("needs genuine and impostor pairs (more pairs, or no --limit)")
    for variant in VARIANTS:
        vec = vectors[variant]
        drift = np.array([float(vec[r] @ vectors["current"][r]) for r in vec])
        sims = np.array([float(vec[p.a] @ vec[p.b]) for p in usable])
        genuine, impostor = sims[same], sims[~same]
        threshold = threshold_at_accept_rate(impostor, 0.01)
        frr = float((genuine < threshold).mean()) * 100
        eer = equal_error_rate(genuine, impostor) * 100
        print(
            f"{variant:18s} {drift.mean():21.4f} {np.percentile(drift, 5):8.4f} "
            f"{drift.min():7.4f} {eer:6.2f} {frr:19.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
