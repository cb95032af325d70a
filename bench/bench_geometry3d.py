"""The photometric planarity residual (``liveness/geometry3d.photometric_residual``): how well
it separates planes from 3-D faces, and its CPU cost, for the current code and an older one.

Not a test: it prints, per class of far/near pair, the residual's min / median / max, how
many pairs reach the threshold ``challenge.PHOTOMETRIC_MIN`` (0.02: "3-D"), and the CPU ms
per call (one thread: the server's ``OPENBLAS_NUM_THREADS=1``, ``cv2.setNumThreads(1)``).
Every frame goes through JPEG q92 as an SDK capture does; meshes come from the face engine.

* ``real`` — pairs of frames of ``apfol__real2__live.webm`` (a person walking up to a
  webcam) whose inter-ocular distance grows by ≥ ``--min-ratio``: should be ≥ 0.02;
* ``real placed`` — the tests' pair (frames 114 far, 9 near; ``tests/challenge_capture.py``)
  moved and scaled into the ovals of drawn challenges, as the tests place them;
* ``replay`` — such pairs of ``apfol__fake2__replay_attack_phone.webm`` (a phone playing a
  video of a person: the screen is a plane, what it shows is a moving 3-D face);
* ``plane`` — a far frame and its render onto a plane brought closer (``render_on_plane`` of
  ``tests/test_liveness_challenge.py``) over a grid of scale × keystone tilt: should be
  < 0.02;
* ``plane placed`` — such renders placed into a drawn near oval, as the planar test does;
* ``print on static scene`` — only a print-sized region around the face (1.6× the face box)
  is rendered onto the plane and pasted over the unmoved frame: a print moved in front of
  a room that stays still (the homography holds for the face, not for what surrounds it).

``--old REV`` (default: the last commit with the full-frame ECC) loads
``src/faceproof/liveness/geometry3d.py`` of that git revision for the comparison; ``none``
skips it.

    python bench/bench_geometry3d.py [--pairs 40] [--old REV|none] [--seed 0]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as `faceproof serve` runs its workers

import argparse  # noqa: E402
import itertools  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imaging import DATA, decode, encode, video_frames  # noqa: E402

LIVE = DATA / "video" / "apfol__real2__live.webm"
REPLAY = DATA / "video" / "apfol__fake2__replay_attack_phone.webm"
OLD_REV = "8818bd4"  # geometry3d.py before the cropped, coarse-to-fine ECC
SCALES = (1.2, 1.35, 1.5)
TILTS = (-4e-4, 0.0, 2e-4, 4e-4)

Pair = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # rgb_a, mesh_a, rgb_b, mesh_b
Residual = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]


def frames(path: Path) -> list[np.ndarray]:
    """Every frame of the clip, through one JPEG round trip as an SDK frame goes."""
    return [decode(encode(f)) for f in video_frames(path, step=1, limit=1_000_000)]


def old_module(rev: str) -> types.ModuleType:
    """geometry3d.py as it was at git revision ``rev`` (imports resolve to today's tree)."""
    src = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:src/faceproof/liveness/geometry3d.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    mod = types.ModuleType(f"geometry3d_{rev}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src, f"geometry3d@{rev}", "exec"), mod.__dict__)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=40, help="real and replay pairs per clip")
    ap.add_argument("--min-ratio", type=float, default=1.2)
    ap.add_argument("--planes", type=int, default=3, help="far frames rendered onto planes")
    ap.add_argument("--challenges", type=int, default=6, help="drawn ovals for placed pairs")
    ap.add_argument("--old", default=OLD_REV, help="git revision to compare with, or none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", type=Path, default=REPO / "var" / "models")
    args = ap.parse_args()

    from challenge_capture import FAR, NEAR, box_of, placement, warp
    from faceproof.liveness import challenge as chl
    from faceproof.liveness import geometry3d
    from faceproof.pipeline.engine import FaceEngine
    from test_liveness_challenge import render_on_plane

    impls: dict[str, Residual] = {"new": geometry3d.photometric_residual}
    if args.old != "none":
        impls[f"old ({args.old})"] = old_module(args.old).photometric_residual
    engine = FaceEngine(args.models)
    cv2.setNumThreads(1)
    rng = np.random.default_rng(args.seed)

    def mesh(rgb: np.ndarray) -> np.ndarray | None:
        rec, _ = engine.analyse(rgb, "selfie")
        return None if rec is None or rec.landmarks is None else rec.landmarks.mesh

    def iod(m: np.ndarray) -> float:
        return float(np.linalg.norm(m[33, :2] - m[263, :2]))

    def clip_pairs(
        name: str, video: list[np.ndarray], meshes: list[np.ndarray | None]
    ) -> list[Pair]:
        size = {i: iod(m) for i, m in enumerate(meshes) if m is not None}
        cands = [(i, j) for i in size for j in size if size[j] >= args.min_ratio * size[i]]
        pick = rng.choice(len(cands), size=min(args.pairs, len(cands)), replace=False)
        out: list[Pair] = []
        for k in sorted(pick):
            i, j = cands[k]
            ma, mb = meshes[i], meshes[j]
            assert ma is not None and mb is not None
            out.append((video[i], ma, video[j], mb))
        print(
            f"{name}: {len(video)} frames, {len(cands)} pairs with ratio >= {args.min_ratio}, "
            f"{len(out)} drawn",
            file=sys.stderr,
        )
        return out

    def pair(a: np.ndarray, b: np.ndarray) -> Pair | None:
        a, b = decode(encode(a)), decode(encode(b))
        ma, mb = mesh(a), mesh(b)
        return None if ma is None or mb is None else (a, ma, b, mb)

    def on_static_scene(rgb: np.ndarray, scale: float, tilt: float) -> np.ndarray:
        """The print (1.6× the face box) rendered closer, pasted over the unmoved frame."""
        x0, y0, x1, y1 = box_of(engine, rgb)
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * max(x1 - x0, y1 - y0)
        print_mask = np.zeros(rgb.shape[:2], np.uint8)
        x, y = round(cx - half), round(cy - half)
        print_mask[max(y, 0) : round(cy + half), max(x, 0) : round(cx + half)] = 255
        moved = render_on_plane(rgb, scale, tilt)
        moved_mask = render_on_plane(np.dstack([print_mask] * 3), scale, tilt)[..., 0] > 127
        return np.where(moved_mask[..., None], moved, rgb)

    sets: dict[str, list[Pair]] = {}
    if not LIVE.is_file():
        print(f"{LIVE}: not present", file=sys.stderr)
        return 1
    live = frames(LIVE)
    live_meshes = [mesh(f) for f in live]
    sets["real"] = clip_pairs(LIVE.name, live, live_meshes)
    if REPLAY.is_file():
        replay = frames(REPLAY)
        sets["replay"] = clip_pairs(REPLAY.name, replay, [mesh(f) for f in replay])
    # Far frames for the renders: among the smallest faces of the live clip.
    sizes = sorted((iod(m), i) for i, m in enumerate(live_meshes) if m is not None)
    far_frames = [i for _, i in sizes[: 8 * args.planes : 8]]
    plane: list[Pair] = []
    scene: list[Pair] = []
    for i, scale, tilt in itertools.product(far_frames, SCALES, TILTS):
        for out, b in (
            (plane, render_on_plane(live[i], scale, tilt)),
            (scene, on_static_scene(live[i], scale, tilt)),
        ):
            if (p := pair(live[i], b)) is not None:
                out.append(p)
    sets["plane"], sets["print on static scene"] = plane, scene
    # As the tests place frames: drawn ovals, the far and near faces moved into them.
    draw = random.Random(args.seed)
    placed, placed_plane = [], []
    size = (live[0].shape[1], live[0].shape[0])
    for k in range(args.challenges):
        ch = chl.draw_challenge(0, 60_000, draw).public()  # type: ignore[arg-type]
        oval = {s["role"]: s["oval"] for s in ch["steps"]}
        far = warp(live[FAR], placement(box_of(engine, live[FAR]), oval["far"], size))
        near = warp(live[NEAR], placement(box_of(engine, live[NEAR]), oval["near"], size))
        if (p := pair(far, near)) is not None:
            placed.append(p)
        scale, tilt = SCALES[k % len(SCALES)], TILTS[k % len(TILTS)]
        flat = render_on_plane(live[FAR], scale, tilt)
        flat = warp(flat, placement(box_of(engine, flat), oval["near"], size))
        if (p := pair(far, flat)) is not None:
            placed_plane.append(p)
    sets["real placed"], sets["plane placed"] = placed, placed_plane

    threshold = chl.PHOTOMETRIC_MIN
    print(f"photometric residual (1 - NCC), threshold {threshold}: '>=' = judged 3-D")
    print(
        f"{'impl':<16} {'class':<22} {'n':>3} {'min':>7} {'median':>7} {'max':>7} "
        f"{'>=':>7} {'CPU ms':>7}"
    )
    margins = []
    for name, fn in impls.items():
        lows, highs = [], []
        for cls, pairs in sets.items():
            if not pairs:
                continue
            t0 = time.process_time()
            r = np.array([fn(*p) for p in pairs])
            ms = (time.process_time() - t0) / len(pairs) * 1000
            print(
                f"{name:<16} {cls:<22} {len(r):>3} {r.min():>7.4f} {np.median(r):>7.4f} "
                f"{r.max():>7.4f} {int((r >= threshold).sum()):>3}/{len(r):<3} {ms:>7.1f}"
            )
            if cls.startswith("real"):
                lows.append(float(r.min()))
            elif cls != "replay":
                highs.append(float(r.max()))
        if lows and highs:
            margins.append(
                f"{name}: lowest real {min(lows):.4f} / highest plane {max(highs):.4f} = "
                f"{min(lows) / max(max(highs), 1e-9):.1f}x"
            )
    print("separation (real classes vs plane classes):", "; ".join(margins))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
