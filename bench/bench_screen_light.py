"""The screen-light statistic on the frames of the two webcam clips of ``../shared/data/video``.

Not a speed benchmark: it prints what the light check of the challenge (docs/liveness.md,
"Screen light") measures on real footage. A *window* is K = 7 or 8 light frames (as issued)
``gap`` video frames apart (``--gaps``: 2 ≈ 67 ms, a user holding still; 15 ≈ 500 ms, the
issued colour durations, with this clip's motion — the person is walking up to a backlit
camera), judged against a freshly drawn colour sequence as the server does:

* ``untinted`` — the frames as recorded (JPEG q92 again), both clips, ``--null-windows``
  windows per gap: the live person and the phone replay never saw our sequences, so this is
  the null hypothesis; the false-pass rate must stay ≤ ALPHA, and the share of p-values
  ≤ 0.05 near 0.05 (calibration of the permutation p-value);
* ``tint D`` (live clip, ``--windows`` windows per gap) — the frames lit by the drawn sequence
  with relative modulation depth D (``simulate_screen_light``: additive light in linear RGB
  on the face, 5 % of it on the background, ±2 % exposure/white-balance jitter per frame,
  2 DN sensor noise, JPEG q92), each frame analysed afresh (detector + mesh);
* ``shifted`` (live clip, tint 0.15) — the same frames judged against the sequence rotated by
  one colour (a response that lags one colour behind).

Per row: windows passed, windows ``light_too_weak``, share with p ≤ 0.005 and ≤ 0.05, median
statistic S, p-value and contrast.

    python bench/bench_screen_light.py [--null-windows 600] [--windows 20] [--gaps 2 15]
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
DEPTHS = (0.3, 0.15, 0.05, 0.01)


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
    ap.add_argument("--null-windows", type=int, default=600)
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--gaps", type=int, nargs="+", default=[2, 15])
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

    def row(name: str, case: str, outs: list[sl.LightOutcome]) -> None:
        n = len(outs)
        if not n:
            return
        passed = sum(o.passed for o in outs)
        weak = sum("light_too_weak" in o.reasons for o in outs)
        ps = [o.p_value if o.p_value is not None else 1.0 for o in outs]
        p005 = sum(p <= sl.ALPHA for p in ps) / n
        p05 = sum(p <= 0.05 for p in ps) / n
        s = statistics.median(o.statistic or 0.0 for o in outs)
        c = statistics.median(o.contrast or 0.0 for o in outs)
        print(
            f"{name:<40} {case:<16} {passed:>4}/{n:<4} {weak:>4}/{n:<4} {p005:>7.4f} {p05:>6.3f} "
            f"{s:>6.3f} {statistics.median(ps):>6.3f} {c:>6.3f}"
        )

    print(
        f"screen-light statistic: ALPHA={sl.ALPHA} MIN_STATISTIC={sl.MIN_STATISTIC} "
        f"MIN_CONTRAST={sl.MIN_CONTRAST}; gaps in video frames (30 fps)"
    )
    print(
        f"{'clip':<40} {'case':<16} {'pass':>9} {'weak':>9} {'p<=.005':>7} {'p<=.05':>6} "
        f"{'S med':>6} {'p med':>6} {'c med':>6}"
    )
    for name in CLIPS:
        path = DATA / name
        if not path.is_file():
            print(f"{name}: not present", file=sys.stderr)
            continue
        video = frames(path)
        measured = [measure(jpeg(f)) for f in video]  # untinted: each frame analysed once
        for gap in args.gaps:
            null: list[sl.LightOutcome] = []
            for _ in range(args.null_windows):
                seq = sl.draw_sequence(Draw())
                k = len(seq.colors)
                start = int(rng.integers(0, len(video) - gap * k))
                lights = [measured[start + gap * i][0] for i in range(k)]
                if all(m is not None for m in lights):
                    null.append(sl.judge([m for m in lights if m is not None], seq))
            row(name, f"untinted gap {gap}", null)
            if "live" not in name:
                continue
            rows: dict[str, list[sl.LightOutcome]] = {}
            for _ in range(args.windows):
                seq = sl.draw_sequence(Draw())
                k = len(seq.colors)
                start = int(rng.integers(0, len(video) - gap * k))
                idx = [start + gap * i for i in range(k)]
                if any(measured[i][0] is None for i in idx):
                    continue
                for depth in DEPTHS:
                    lit = [
                        measure(
                            jpeg(sl.simulate_screen_light(video[i], measured[i][1], c, depth, rng))
                        )[0]
                        for i, c in zip(idx, seq.colors, strict=True)
                    ]
                    if any(m is None for m in lit):
                        continue
                    lights = [m for m in lit if m is not None]
                    rows.setdefault(f"tint {depth} gap {gap}", []).append(sl.judge(lights, seq))
                    if depth == 0.15:
                        shifted = seq.colors[-1:] + seq.colors[:-1]
                        if sl._valid(shifted):
                            other = sl.LightSequence(shifted, seq.ms, seq.settle)
                            rows.setdefault(f"shifted gap {gap}", []).append(
                                sl.judge(lights, other)
                            )
            for case, outs in rows.items():
                row(name, case, outs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
