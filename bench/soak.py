"""Soak test: a real ``faceproof serve --workers N`` under steady mixed load; memory, fds, codes.

    python bench/soak.py [--minutes 10] [--warmup 90] [--workers 2] [--clients 4] [--port 8181]

``--clients`` threads in this process, each with its own keep-alive connection, send a fixed,
seeded mix of real requests back to back: /face/generateTemplateFromImage (default ENROL
quality mode), /matchWithSelfie and /face/as on real images of ../shared/data (LFW and
DeepFace portraits, 640×480 webcam frames). Every answer is counted by endpoint, HTTP status
and, for errors, the reference's ``code`` in the body.

Every ``--sample`` seconds the sampler reads each worker's RSS (``VmRSS``), peak (``VmHWM``)
and open descriptors from /proc. The report gives, per worker, RSS right after the warm-up
and at the end, the growth between them, the peak, the fd counts, and every status seen (5xx
counted apart). The numbers depend on the machine: say how busy it was when quoting them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))

from serving import running_server, worker_pids  # noqa: E402

GENERATE = "/api/v1/face/generateTemplateFromImage"
MATCH = "/api/v1/matchWithSelfie"
FACE_AS = "/api/v1/face/as"


def _images(n: int) -> list[bytes]:
    """Real face images as their JPEG bytes: LFW portraits, DeepFace portraits, webcam frames."""
    from imaging import encode, video_frames

    lfw = sorted((DATA / "verify" / "lfw").rglob("*.jpg"))
    rng = random.Random(7)
    picks = rng.sample(lfw, min(len(lfw), n // 2)) if lfw else []
    portraits = sorted((DATA / "verify" / "extra" / "deepface_unit_dataset").rglob("*.jpg"))
    out = [p.read_bytes() for p in picks + portraits[: n // 4]]
    out += [encode(f) for f in video_frames(step=15, limit=max(1, n - len(out)))]
    if not out:
        raise SystemExit(f"no images under {DATA}")
    return out


def _proc_stats(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = float(value.split()[0]) / (1024 if key != "Threads" else 1)
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


class Load:
    """The clients: each its own connection, a seeded sequence of mixed requests."""

    def __init__(self, port: int, images: list[bytes], seed: int) -> None:
        self.port = port
        self.images = [base64.b64encode(i).decode("ascii") for i in images]
        self.seed = seed
        self.codes: Counter[tuple[str, int, int | None]] = Counter()
        self.errors: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _request(self, rng: random.Random) -> tuple[str, bytes, str]:
        kind = rng.choice(("generate", "match", "as"))
        a, b = rng.choice(self.images), rng.choice(self.images)
        if kind == "generate":
            return GENERATE, json.dumps({"image": a}).encode(), "application/json"
        if kind == "match":
            body = {
                "image": {"template": a, "format": "JPEG"},
                "imageToVerifyAgainst": {"template": b, "format": "JPEG"},
                "level": "HIGH",
            }
            return MATCH, json.dumps(body).encode(), "application/json"
        boundary = uuid.uuid4().hex
        form = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"\r\n\r\n{a}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="threshold"\r\n\r\nHIGH\r\n'
            f"--{boundary}--\r\n"
        ).encode()
        return FACE_AS, form, f"multipart/form-data; boundary={boundary}"

    def client(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        while not self.stop.is_set():
            path, body, ctype = self._request(rng)
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": ctype})
                r = conn.getresponse()
                data = r.read()
                status = r.status
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.errors[f"{path}: {type(exc).__name__}"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                continue
            ms = (time.perf_counter() - t0) * 1000
            code = None
            if status != 200:  # the reference's code in the body: 510, 509, 401, ...
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    code = int(json.loads(data)["code"])
            with self.lock:
                self.codes[(path, status, code)] += 1
                self.latency.setdefault(path, []).append(ms)
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="total load time")
    ap.add_argument("--warmup", type=float, default=90.0, help="seconds before the baseline")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--json", type=Path, help="also write the samples and counts here")
    args = ap.parse_args()

    images = _images(args.images)
    samples: list[dict[str, Any]] = []
    with running_server(workers=args.workers, port=args.port) as served:
        port, server = served.port, served.proc
        load = Load(port, images, seed=1)
        workers = worker_pids(server.pid) if args.workers > 1 else [server.pid]
        print(f"server pid {server.pid}, workers {workers}, port {port}, {len(images)} images")
        print("idle, before any load: " + _fmt({pid: _proc_stats(pid) for pid in workers}))
        threads = [
            threading.Thread(target=load.client, args=(i,), daemon=True)
            for i in range(args.clients)
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        end = t0 + args.minutes * 60
        baseline: dict[int, dict[str, float]] | None = None
        while time.monotonic() < end:
            time.sleep(args.sample)
            now = time.monotonic() - t0
            stats = {pid: _proc_stats(pid) for pid in workers}
            samples.append({"t": round(now, 1), "workers": stats})
            if baseline is None and now >= args.warmup:
                baseline = stats
                print(f"after warm-up ({now:.0f} s): " + _fmt(stats), flush=True)
        load.stop.set()
        for t in threads:
            t.join(timeout=180)
        final = {pid: _proc_stats(pid) for pid in workers}
        print(f"at the end ({time.monotonic() - t0:.0f} s): " + _fmt(final))
        _report(load, baseline or final, final, samples, args)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "samples": samples,
                        "codes": {f"{p} {s} {c}": n for (p, s, c), n in load.codes.items()},
                        "errors": dict(load.errors),
                    },
                    indent=1,
                )
            )


def _fmt(stats: dict[int, dict[str, float]]) -> str:
    return ", ".join(
        f"worker {pid}: RSS {s.get('VmRSS', 0):.0f} MB, fds {s.get('fds', 0):.0f}, "
        f"threads {s.get('Threads', 0):.0f}"
        for pid, s in stats.items()
    )


def _report(
    load: Load,
    baseline: dict[int, dict[str, float]],
    final: dict[int, dict[str, float]],
    samples: list[dict[str, Any]],
    args: argparse.Namespace,
) -> None:
    print(
        f"\n{args.workers} workers, {args.clients} clients, {args.minutes:g} min, "
        f"warm-up {args.warmup:g} s, {os.cpu_count()} CPUs"
    )
    print(
        f"{'worker':>8s} {'RSS warm MB':>12s} {'RSS end MB':>11s} {'growth':>8s} "
        f"{'peak MB':>8s} {'fds warm':>9s} {'fds end':>8s} {'fds max':>8s}"
    )
    for pid, end in final.items():
        start = baseline.get(pid, {})
        rss0, rss1 = start.get("VmRSS", 0.0), end.get("VmRSS", 0.0)
        growth = (rss1 - rss0) / rss0 * 100 if rss0 else float("nan")
        fd_max = max(
            (s["workers"][pid].get("fds", 0) for s in samples if pid in s["workers"]),
            default=0,
        )
        print(
            f"{pid:>8d} {rss0:12.0f} {rss1:11.0f} {growth:7.1f}% {end.get('VmHWM', 0):8.0f} "
            f"{start.get('fds', 0):9.0f} {end.get('fds', 0):8.0f} {fd_max:8.0f}"
        )
    total = sum(load.codes.values())
    five = sum(n for (_, s, _c), n in load.codes.items() if s >= 500)
    print(f"\n{total} answers, 5xx: {five}, transport errors: {sum(load.errors.values())}")
    for (path, status, code), n in sorted(load.codes.items(), key=str):
        print(f"  {path:42s} HTTP {status}" + (f" code {code}" if code else "") + f": {n}")
    for what, n in sorted(load.errors.items()):
        print(f"  error {what}: {n}")
    for path, ms in sorted(load.latency.items()):
        print(
            f"  latency {path:34s} median {statistics.median(ms):7.1f} ms, "
            f"max {max(ms):7.1f} ms (client, n={len(ms)})"
        )


if __name__ == "__main__":
    main()
