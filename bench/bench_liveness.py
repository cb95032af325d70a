"""CPU time and latency of POST /api/v1/face/as on a real server process (one worker).

Starts ``faceproof serve --workers 1`` as a subprocess (port 8161 unless ``--port``), sends
one request at a time and measures, per request, the CPU time of the **whole server process
tree, all threads** (sum of ``/proc/<pid>/task/*/schedstat`` run times, nanoseconds, over the
server and its children) and the wall time seen by the client. The first ``--warmup``
requests are not counted.

Images: 640×480 JPEG frames of the two webcam clips of ``../shared/data/video`` (a live
selfie and a phone replay: SDK-sized frames the server judges), and the dev PAD images as
stored (mostly tight face crops, which the server now answers FEEDBACK_RETRY without
running the CNNs: their CPU is listed apart, never mixed with judged requests).

``--src DIR`` runs the server from another source tree (``PYTHONPATH=DIR/src``), e.g. a
``git worktree`` of an older commit, with this bench, for a before/after comparison.
Thread pools are left as the server sets them; ``--env K=V`` adds variables (for example
``OPENBLAS_NUM_THREADS=1``). The machine may be shared: the numbers say so.

    python bench/bench_liveness.py [-n 40] [--warmup 5] [--src DIR] [--env K=V ...]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import cv2

from serving import process_tree, running_server

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"


def clip_frames(name: str, n: int) -> list[bytes]:
    cap = cv2.VideoCapture(str(DATA / "video" / name))
    out: list[bytes] = []
    i = 0
    while len(out) < n:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % 7 == 0:
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
            out.append(buf.tobytes())
        i += 1
    cap.release()
    return out


def webcam_frames(n: int) -> list[bytes]:
    """Alternating live and replay 640×480 frames."""
    live = clip_frames("apfol__real2__live.webm", (n + 1) // 2)
    replay = clip_frames("apfol__fake2__replay_attack_phone.webm", n // 2)
    return [f for pair in zip(live, replay, strict=False) for f in pair] + live[len(replay) :]


def pad_images(n: int) -> list[bytes]:
    files = sorted((DATA / "pad").rglob("*.png"))
    step = max(1, len(files) // max(n, 1))
    return [p.read_bytes() for p in files[::step][:n]]


def cpu_ns(pid: int) -> int:
    """CPU time (ns) of every thread of the process tree so far."""
    total = 0
    for p in process_tree(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            # a thread may end between listing and reading
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total


def run(
    client: object, pid: int, images: list[bytes], warmup: int
) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Per answer code: CPU ms and wall ms of each timed request."""
    cpu: dict[int, list[float]] = {}
    wall: dict[int, list[float]] = {}
    for i, img in enumerate(images):
        data = {"image": base64.b64encode(img).decode("ascii"), "threshold": "LOW"}
        c0, t0 = cpu_ns(pid), time.perf_counter()
        r = client.post("/api/v1/face/as", data=data, timeout=120)  # type: ignore[attr-defined]
        t1, c1 = time.perf_counter(), cpu_ns(pid)
        code = r.status_code if r.status_code == 200 else int(r.json().get("code", r.status_code))
        if i >= warmup:
            cpu.setdefault(code, []).append((c1 - c0) / 1e6)
            wall.setdefault(code, []).append(1000 * (t1 - t0))
    return cpu, wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--src", type=Path, default=None, help="source tree to serve (default: this)")
    ap.add_argument("--env", action="append", default=[], help="K=V for the server")
    args = ap.parse_args()
    if not DATA.is_dir():
        print("../shared/data is not present", file=sys.stderr)
        return 1
    import httpx

    env_extra = dict(e.split("=", 1) for e in args.env)
    load = os.getloadavg()
    print(
        f"server: {'HEAD of ' + str(args.src) if args.src else 'this tree'}  env {env_extra or '-'}"
        f"  machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} at start (shared machine)"
    )
    with (
        running_server(port=args.port, src=args.src, env_extra=env_extra) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        for name, imgs in (
            ("640x480 webcam JPEG", webcam_frames(args.n + args.warmup)),
            ("dev PAD images (PNG)", pad_images(args.n + args.warmup)),
        ):
            cpu, wall = run(client, served.proc.pid, imgs, args.warmup)
            for code in sorted(cpu):
                c, w = cpu[code], wall[code]
                what = "judged" if code == 200 else f"answered {code}"
                print(
                    f"{name:<22} {what:<13} n={len(c):3d}"
                    f"  median CPU {statistics.median(c):7.1f} ms"
                    f"  (all threads)  median wall {statistics.median(w):7.1f} ms"
                    f"  p90 CPU {sorted(c)[int(0.9 * (len(c) - 1))]:7.1f} ms"
                )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
