"""The screen-light statistic on the frames of the two webcam clips of ``../shared/data/video``.

Not a speed benchmark: it prints what the light check of the challenge (docs/liveness.md,
"Screen light") measures on real footage. For each clip, ``--windows`` stretches of K
consecutive light frames (K = 7 or 8 as issued; ``--gap`` video frames apart, 2 ≈ 67 ms: a
user holding still; 15 ≈ 500 ms: the issued colour durations, with this clip's motion) are
judged against a freshly drawn colour sequence, as the server would:

* ``untinted`` — the frames as recorded, both clips (the live person and the phone replay
  never saw our sequence: the null hypothesis);
* ``tint D`` (live clip) — the frames lit by the drawn sequence with relative modulation
  depth D (``simulate_screen_light``: additive light in linear RGB on the face, 5 % of it on
  the background, ±2 % exposure/white-balance jitter per frame, 2 DN sensor noise, JPEG q92);
* ``shifted`` (live clip, tint 0.15) — judged against the sequence rotated by one colour.

Each frame is analysed afresh (detector + mesh), as on the server. Per row: how many windows
passed, how many were light_too_weak, median statistic S, median p-value and median contrast.

    python bench/bench_screen_light.py [--windows 30] [--gap 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "video"
CLIPS = ("apfol__real2__live.webm", "apfol__fake2__replay_attack_phone.webm")
DEPTHS = (0.3, 0.15, 0.05, 0.02, 0.01)


def frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def jpeg(rgb: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=30)
    ap.add_argument("--gap", type=int, default=2, help="video frames between light frames")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", type=Path, default=REPO / "var" / "models")
    args = ap.parse_args()

    from faceproof.liveness import screen_light as sl
    from faceproof.pipeline.engine import FaceEngine

    engine = FaceEngine(args.models)
    rng = np.random.default_rng(args.seed)
    draw = np.random.default_rng(args.seed + 1)

    class Draw:  # draw_sequence's rng interface over a seeded generator (reproducible runs)
        def randint(self, a: int, b: int) -> int:
            return int(draw.integers(a, b + 1))

        def sample(self, seq: tuple[str, ...], k: int) -> list[str]:
            return [seq[i] for i in draw.choice(len(seq), size=k, replace=False)]

        def shuffle(self, x: list[str]) -> None:
            draw.shuffle(x)

    Box = tuple[float, float, float, float]

    def measure(rgb: np.ndarray) -> tuple[sl.FrameLight | None, Box]:
        rec, _ = engine.analyse(rgb, "selfie")
        if rec is None or rec.landmarks is None:
            return None, (0.0, 0.0, 0.0, 0.0)
        return sl.measure_frame(rgb, rec.landmarks.mesh, rec.detection.box), rec.detection.box

    print(
        f"screen-light statistic: ALPHA={sl.ALPHA} MIN_STATISTIC={sl.MIN_STATISTIC} "
        f"MIN_CONTRAST={sl.MIN_CONTRAST}; {args.windows} windows, light frames {args.gap} "
        "video frames apart (30 fps)"
    )
    print(f"{'clip':<40} {'case':<10} {'pass':>7} {'weak':>7}  S med  p med  c med")
    for name in CLIPS:
        path = DATA / name
        if not path.is_file():
            print(f"{name}: not present", file=sys.stderr)
            continue
        video = frames(path)
        rows: dict[str, list[sl.LightOutcome]] = {}
        for _ in range(args.windows):
            seq = sl.draw_sequence(Draw())
            k = len(seq.colors)
            start = int(rng.integers(0, len(video) - args.gap * k))
            raw = [video[start + args.gap * i] for i in range(k)]
            base = [measure(jpeg(f)) for f in raw]
            if any(m is None for m, _ in base):
                continue
            rows.setdefault("untinted", []).append(sl.judge([m for m, _ in base if m], seq))
            if "live" not in name:
                continue
            for depth in DEPTHS:
                lit = [
                    measure(jpeg(sl.simulate_screen_light(f, b, c, depth, rng)))[0]
                    for f, (_, b), c in zip(raw, base, seq.colors, strict=True)
                ]
                if any(m is None for m in lit):
                    continue
                lights = [m for m in lit if m is not None]
                rows.setdefault(f"tint {depth}", []).append(sl.judge(lights, seq))
                if depth == 0.15:
                    shifted = seq.colors[-1:] + seq.colors[:-1]
                    if sl._valid(shifted):
                        other = sl.LightSequence(shifted, seq.ms, seq.settle)
                        rows.setdefault("shifted", []).append(sl.judge(lights, other))
        for case, outs in rows.items():
            n = len(outs)
            passed = sum(o.passed for o in outs)
            weak = sum("light_too_weak" in o.reasons for o in outs)
            s = statistics.median(o.statistic or 0.0 for o in outs)
            p = statistics.median(o.p_value if o.p_value is not None else 1.0 for o in outs)
            c = statistics.median(o.contrast or 0.0 for o in outs)
            print(
                f"{name:<40} {case:<10} {passed:>3}/{n:<3} {weak:>3}/{n:<3} "
                f"{s:>6.3f} {p:>6.3f} {c:>6.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
