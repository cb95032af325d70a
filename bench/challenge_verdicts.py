"""The challenge checks' measurements on seeded challenge captures, for comparing two trees.

    python bench/challenge_verdicts.py [-n 30] [--src DIR] [--seeds S ...]

Challenge ``i`` is drawn from ``random.Random(i)`` (ovals, holds, colours) and answered like
``tests/challenge_capture.py`` with seed ``i``, so two runs (this tree, and ``--src`` another
tree, e.g. ``git archive`` of an earlier commit) judge the same captures. Printed per capture:
the decision, the failed checks, and the measurements (min identity, scale ratio,
planarity, photometric residual, screen-light statistic S, p and contrast); then a summary.
Runs in-process (no server); not a timing.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=30, help="captures")
    ap.add_argument("--src", type=Path, default=None, help="judge with another source tree")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="these seeds, not 0..n-1")
    args = ap.parse_args()
    tree = (args.src or REPO).resolve()
    sys.path[:0] = [str(tree / "src"), str(tree / "tests")]
    os.environ["FACEPROOF_ABUSE_FAILURES"] = "0"
    from challenge_capture import answer
    from faceproof.api.app import create_app
    from faceproof.api.capture import open_capture
    from faceproof.config import load_settings
    from faceproof.liveness import challenge as chl

    logging.disable(logging.INFO)
    models = Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models")).resolve()
    decisions: Counter[str] = Counter()
    columns: dict[str, list[float]] = {"identity": [], "S": []}
    with tempfile.TemporaryDirectory(prefix="faceproof-verdicts-") as tmp:
        app = create_app(load_settings(data_dir=Path(tmp), model_dir=models))
        services = app.state.services
        jwk = services.keystore.public_jwk()
        print(f"tree {tree}")
        print("seed decision identity scale planarity photometric S p contrast reasons")
        draw = chl.draw_challenge
        for seed in range(args.n) if args.seeds is None else args.seeds:
            chl.draw_challenge = lambda now, ttl, s=seed: draw(now, ttl, random.Random(s))  # type: ignore[misc]
            try:
                ch = services.liveness.issue_challenge().public()
            finally:
                chl.draw_challenge = draw
            capture = open_capture(services, answer(services.face, ch, seed=seed).seal(jwk))
            record, _ = services.face.analyse(capture.main.rgb, "selfie")
            result = services.liveness.evaluate_capture(services.face, capture, record=record)
            o = result.challenge
            light = o.light if o is not None else None
            values = [
                None if o is None else o.min_identity,
                None if o is None else o.scale_ratio,
                None if o is None else o.planarity,
                None if o is None else o.photometric,
                None if light is None else light.statistic,
                None if light is None else light.p_value,
                None if light is None else light.contrast,
            ]
            text = " ".join("-" if v is None else f"{v:.3f}" for v in values)
            print(f"{seed:4d} {result.decision} {text} {','.join(result.reasons) or '-'}")
            decisions[str(result.decision)] += 1
            if values[0] is not None:
                columns["identity"].append(values[0])
            if values[4] is not None:
                columns["S"].append(values[4])
        services.close()
    print(f"decisions {dict(decisions)}")
    for name, v in columns.items():
        if v:
            print(f"{name}: min {min(v):.3f}, median {sorted(v)[len(v) // 2]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
