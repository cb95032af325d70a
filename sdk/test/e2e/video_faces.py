"""Face box and head pose per frame of a video, for the e2e harness's reactive camera.

The reactive camera (sdk/test/e2e/reactive-camera.js) places the face of real footage inside
the ovals the SDK asks for, so it must know where the face is in every source frame, and it
plays the far and near poses from moments where the head faces the camera (the SDK asks a
turned head to look straight). The boxes come from the server's own short-range BlazeFace
(the detector the challenge protocol measures ovals with), the pose from the server's face
mesh and PnP (:class:`faceproof.pipeline.engine.FaceEngine`), run here once per video; the
harness caches the result next to the extracted frames.

    python sdk/test/e2e/video_faces.py FRAMES_DIR OUT.json [--fps 30]

FRAMES_DIR holds ``%05d.jpg`` frames (``ffmpeg -i video -q:v 3 FRAMES_DIR/%05d.jpg``).
Writes ``{"width", "height", "fps", "frames": [{"file", "box": [x0, y0, x1, y1] | null,
"score", "pose": [yaw, pitch, roll] | null}]}`` (degrees). Nothing biometric is logged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np


def model_dir() -> Path:
    env = os.environ.get("FACEPROOF_MODEL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "var" / "models"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("frames", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--fps", type=float, default=30.0)
    args = ap.parse_args(argv)

    from faceproof.models.blazeface import BlazeFaceDetector
    from faceproof.pipeline.engine import FaceEngine

    detector = BlazeFaceDetector(model_dir(), "short")
    engine = FaceEngine(model_dir())
    files = sorted(p for p in args.frames.iterdir() if p.suffix == ".jpg")
    if not files:
        print(f"video_faces: no .jpg frames in {args.frames}", file=sys.stderr)
        return 2
    rows = []
    width = height = 0
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            rows.append({"file": path.name, "box": None, "score": 0.0, "pose": None})
            continue
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        height, width = rgb.shape[:2]
        dets = detector.detect(rgb)
        if not dets:
            rows.append({"file": path.name, "box": None, "score": 0.0, "pose": None})
            continue
        best = max(dets, key=lambda d: d.width * d.height)
        pose = engine.landmarks(rgb, best).pose
        rows.append(
            {
                "file": path.name,
                "box": [round(float(v), 2) for v in best.box],
                "score": round(float(best.score), 4),
                "pose": None
                if pose is None
                else [round(float(v), 1) for v in (pose.yaw, pose.pitch, pose.roll)],
            }
        )
    body = {"width": width, "height": height, "fps": args.fps, "frames": rows}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    tmp.replace(args.out)
    found = sum(r["box"] is not None for r in rows)
    print(json.dumps({"frames": len(rows), "with_face": found}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
