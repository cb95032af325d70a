"""Why some genuine test captures fail ``planar_motion``: the placement, not the face.

    python bench/placement_planarity.py [-n 200] [--seeds S ...]

``tests/challenge_capture.py`` puts the live clip's far and near frames into a challenge's
ovals with a similarity (scale ``s`` and a shift): digital zoom and pan, which changes the
apparent focal length (``s·f``) and principal point (``s·c + t``) from one frame to the next,
while the planarity check's rigid model assumes one pinhole camera (f = image width,
principal point at the centre) for both. For challenge ``i`` drawn from ``random.Random(i)``
(the draw ``bench/challenge_verdicts.py`` and the tests use), the two frames are placed, JPEG
round-tripped and meshed, and the planarity statistic (``> 0``: judged 3-D) is printed for:

* ``placed`` — the meshes as the server sees them (the value ``challenge_verdicts`` prints);
* ``clip`` — the same meshes mapped back through each frame's similarity into the clip's own
  pixels (one camera for both frames, as a real webcam would give);
* ``zoom`` / ``shift`` — mapped back, then only each frame's scale (about the image centre),
  or only its shift of the principal point, applied again;

with ``zoom`` = s_near / s_far and ``pp_far``, ``pp_near`` (the principal point's offset from
the centre, pixels) and ``dpp`` (its move between the frames). Not a timing.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]


def remap(mesh: np.ndarray, s: float, t: np.ndarray) -> np.ndarray:
    """``mesh`` (x, y in pixels, z in the same units) under x' = s·x + t."""
    out = mesh.astype(np.float64).copy()
    out[:, :2] = mesh[:, :2] * s + t
    out[:, 2] = mesh[:, 2] * s
    return out.astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=200, help="challenges 0..n-1")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="these seeds instead")
    ap.add_argument("--models", type=Path, default=REPO / "var" / "models")
    args = ap.parse_args()

    from challenge_capture import FAR, NEAR, box_of, clip, placement, warp
    from faceproof.liveness import challenge as chl
    from faceproof.liveness.geometry3d import planarity
    from faceproof.pipeline.engine import FaceEngine
    from imaging import decode, encode

    engine = FaceEngine(args.models)
    video = clip()
    size = (video[0].shape[1], video[0].shape[0])
    centre = np.array(size, dtype=np.float64) / 2
    src = {"far": video[FAR], "near": video[NEAR]}
    boxes = {role: box_of(engine, rgb) for role, rgb in src.items()}

    def mesh(rgb: np.ndarray) -> np.ndarray:
        record, _ = engine.analyse(decode(encode(rgb)), "selfie")
        assert record is not None and record.landmarks is not None
        return np.asarray(record.landmarks.mesh, dtype=np.float32)

    def stat(a: np.ndarray, b: np.ndarray) -> float:
        return float(planarity(a, b, size).statistic)

    columns: dict[str, list[float]] = {k: [] for k in ("placed", "clip", "zoom", "shift")}
    print("seed placed clip zoom shift | zoom s_far s_near pp_far pp_near dpp")
    for seed in range(args.n) if args.seeds is None else args.seeds:
        ch = chl.draw_challenge(0, chl.TTL_MS, random.Random(seed)).public()  # type: ignore[arg-type]
        ovals = {step["role"]: step["oval"] for step in ch["steps"]}
        placed, own, scale, pp = {}, {}, {}, {}
        for role in ("far", "near"):
            m = placement(boxes[role], ovals[role], size)
            s, t = float(m[0, 0]), m[:, 2]
            placed[role] = mesh(warp(src[role], m))
            own[role] = remap(placed[role], 1 / s, -t / s)
            scale[role], pp[role] = s, s * centre + t - centre
        values = {
            "placed": stat(placed["far"], placed["near"]),
            "clip": stat(own["far"], own["near"]),
            "zoom": stat(
                *(remap(own[r], scale[r], (1 - scale[r]) * centre) for r in ("far", "near"))
            ),
            "shift": stat(*(remap(own[r], 1.0, pp[r]) for r in ("far", "near"))),
        }
        for k, v in values.items():
            columns[k].append(v)
        dpp = float(np.hypot(*(pp["near"] - pp["far"])))
        print(
            f"{seed:4d} "
            + " ".join(f"{v:6.3f}" for v in values.values())
            + f" | {scale['near'] / scale['far']:.3f} {scale['far']:.3f} {scale['near']:.3f}"
            f" ({pp['far'][0]:.0f},{pp['far'][1]:.0f}) ({pp['near'][0]:.0f},{pp['near'][1]:.0f})"
            f" {dpp:.0f}",
            flush=True,
        )
    for k, col in columns.items():
        x = np.array(col)
        print(
            f"{k}: min {x.min():.3f}, median {np.median(x):.3f}, max {x.max():.3f}, "
            f"below 0 (planar): {int(np.sum(x < 0))} of {len(x)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
