"""Server CPU per request on every endpoint, all threads of the whole process tree, and where
it goes by thread; idle CPU (spinning pools) too.

    python bench/cpu_per_request.py [-n 20] [--warmup 3] [--only NAME ...] [--env K=V ...]
                                    [--src DIR] [--port P] [--json FILE]

One ``faceproof serve --workers 1`` (default settings, private data dir; :mod:`serving`),
one request at a time from a keep-alive client in this process, so every CPU nanosecond the
server spends between sending and receiving belongs to that request. CPU is read from
``/proc/<pid>/task/*/schedstat`` of the server and all its descendants before and after each
request (run time in ns, all threads). The client builds every body before the clock starts;
capture endpoints get a fresh envelope each time (nonces are single-use).

Printed per endpoint: median and mean CPU ms per request, the CPU budget that ≥ 50× the
reference's requests/s per core allows (1000 / (50 × reference per core)), the req/s per
core one worker's CPU implies (1000 / mean CPU ms) and its ratio to the reference, the
answers seen, and the CPU by thread name summed over the timed requests (so a pool thread
that spins or a helper that should not run shows up). Before the requests, the server's CPU
over ``--idle`` seconds of no traffic is printed by thread: it should be ~0.

Reference per-core figures: ../shared/reference/face-web-solution.md, "Hardware
requirements", 4-core c5a column divided by 4 (/process: ≥ BALANCED_VERY_HIGH, desktop).
/verifyWithPictureId has no figure of its own; it is compared with /matchWithPictureId's (it
does that match and a liveness check on top). The machine may be shared: the load average is
printed. CPU seconds per request are more robust to load than wall times, not immune: on
this 2-core VM they rise by ~25 % when other jobs keep both cores busy (cache contention).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from imaging import DATA, encode, fit, load_rgb, video_frames  # noqa: E402
from serving import process_tree, running_server  # noqa: E402

API = "/api/v1"
#: requests/s per core of the reference (4-core column / 4).
REFERENCE_PER_CORE = {
    "process": 0.46 / 4,
    "matchWithSelfie": 2.13 / 4,
    "matchWithPictureId": 1.47 / 4,
    "verifyWithPictureId": 1.47 / 4,
    "secure/face/as": 0.7 / 4,
    "face/as": 0.45 / 4,
    "generateTemplateFromImage": 4.04 / 4,
}
#: Not in the reference: the cost of an answer with no image work (framework, middleware,
#: ledger, access log), printed first as the floor every endpoint pays.
OVERHEAD = "time (no image work)"
GOAL = 50.0

Body = tuple[bytes, str]  # payload, content type


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> Body:
    b = uuid.uuid4().hex
    parts = [
        f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for k, data in files.items():
        head = (
            f'--{b}\r\nContent-Disposition: form-data; name="{k}"; filename="{k}.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        parts.append(head + data + b"\r\n")
    return b"".join(parts) + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def as_json(obj: Any) -> Body:
    return json.dumps(obj).encode(), "application/json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def portraits(n: int, source: str = "mixed") -> list[bytes]:
    """640×480 JPEGs framed like captures. ``mixed``: real webcam frames and the deepface
    portraits; ``lfw``: LFW news photos (a fixed sample), which often show a second, doubtful
    face at the edge (the case where the animal check runs)."""
    if source == "lfw":
        files = sorted((DATA / "verify" / "lfw").rglob("*.jpg"))
        picks = random.Random(12).sample(files, n)
        return [encode(fit(load_rgb(p), 640, 480)) for p in picks]
    frames = [encode(f) for f in video_frames(step=15, limit=max(1, n // 2))]
    files = sorted((DATA / "verify" / "extra" / "deepface_unit_dataset").rglob("*.jpg"))
    step = max(1, len(files) // max(1, n - len(frames)))
    frames += [encode(fit(load_rgb(p), 640, 480)) for p in files[::step]]
    return frames[:n]


def pairs(n: int) -> list[tuple[bytes, bytes]]:
    """Same-person pairs from the deepface set, both framed 640×480."""
    root = DATA / "verify" / "extra" / "deepface_unit_dataset"
    by_id: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(root.rglob("*.jpg")):
        by_id[p.parent.name].append(p)
    out = []
    for paths in by_id.values():
        for a, b in itertools.pairwise(paths):
            out.append((encode(fit(load_rgb(a), 640, 480)), encode(fit(load_rgb(b), 640, 480))))
    return out[:n]


def endpoints(
    jwk: dict[str, Any], n: int, source: str = "mixed"
) -> dict[str, tuple[str, Callable[[int], Body]]]:
    """name → (path, body for request i). Envelopes are sealed lazily, one per request."""
    from faceproof.crypto.envelope import build_envelope

    imgs = portraits(n, source)
    prs = pairs(n)
    level = "MEDIUM"

    def img(i: int) -> bytes:
        return imgs[i % len(imgs)]

    def pair(i: int) -> tuple[bytes, bytes]:
        return prs[i % len(prs)]

    def sealed(i: int, **opts: Any) -> bytes:
        return build_envelope([img(i)], jwk, options=opts or None)

    def tpl(data: bytes) -> dict[str, str]:
        return {"template": b64(data), "format": "JPEG"}

    return {
        OVERHEAD: (f"{API}/time", lambda i: (b"", "application/json")),
        "generateTemplateFromImage": (
            f"{API}/face/generateTemplateFromImage",
            lambda i: as_json({"image": b64(img(i))}),
        ),
        "matchWithSelfie": (
            f"{API}/matchWithSelfie",
            lambda i: as_json(
                {"image": tpl(pair(i)[0]), "imageToVerifyAgainst": tpl(pair(i)[1]), "level": level}
            ),
        ),
        "matchWithPictureId": (
            f"{API}/matchWithPictureId",
            lambda i: as_json(
                {"image": tpl(pair(i)[0]), "imageToVerifyAgainst": tpl(pair(i)[1]), "level": level}
            ),
        ),
        "face/as": (
            f"{API}/face/as",
            lambda i: multipart({"image": b64(img(i)), "threshold": "LOW"}, {}),
        ),
        "secure/face/as": (
            f"{API}/secure/face/as",
            lambda i: multipart({}, {"file": sealed(i)}),
        ),
        "process": (
            f"{API}/process",
            lambda i: multipart(
                {"enableQuality": "true"},
                {"file": sealed(i, asThreshold="BALANCED_VERY_HIGH")},
            ),
        ),
        "verifyWithPictureId": (
            f"{API}/verifyWithPictureId",
            lambda i: multipart(
                {"picID": b64(pair(i)[1]), "template": "JPEG", "level": level},
                {"file": build_envelope([pair(i)[0]], jwk)},
            ),
        ),
    }


def threads(pid: int) -> dict[tuple[int, int], tuple[str, int]]:
    """(pid, tid) → (thread name, CPU ns so far), every thread of the tree."""
    out = {}
    for p in process_tree(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                ns = int((task / "schedstat").read_text().split()[0])
                name = (task / "comm").read_text().strip()
                out[(p, int(task.name))] = (name, ns)
    return out


def by_thread(
    before: dict[tuple[int, int], tuple[str, int]], after: dict[tuple[int, int], tuple[str, int]]
) -> Counter[str]:
    """CPU ns per thread between two snapshots (threads born in between count whole), keyed
    ``pid/tid name`` with ``*`` marking a process's main thread (the event loop)."""
    used: Counter[str] = Counter()
    for (pid, tid), (name, ns) in after.items():
        key = f"{pid}/{tid}{'*' if pid == tid else ''} {name}"
        used[key] += ns - before.get((pid, tid), (name, 0))[1]
    return used


def thread_summary(used: Counter[str]) -> str:
    """Main threads (event loops) vs the rest, and how many threads ran at all."""
    total = sum(used.values()) or 1
    main = sum(v for k, v in used.items() if "*" in k.split()[0])
    busy = [v for k, v in used.items() if "*" not in k.split()[0] and v > 0]
    top = ", ".join(f"{100 * v / total:.0f}%" for v in sorted(busy, reverse=True)[:5])
    return (
        f"main threads {100 * main / total:.0f}%, {len(busy)} other threads ran"
        f" {100 * sum(busy) / total:.0f}% (largest {top or '-'})"
    )


def total_ns(snapshot: dict[Any, tuple[str, int]]) -> int:
    return sum(ns for _, ns in snapshot.values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def load_run(
    port: int, path: str, bodies: list[Body], clients: int, answers: Counter[str]
) -> tuple[list[float], list[float], float]:
    """``clients`` keep-alive connections posting ``bodies`` as fast as answered; returns
    ([], latencies ms, wall s). CPU is then read for the whole window, divided by requests
    (the mean only: requests overlap)."""
    import threading

    todo = list(enumerate(bodies))
    lock = threading.Lock()
    latency: list[float] = []

    def worker() -> None:
        c = Client(port)
        while True:
            with lock:
                if not todo:
                    return
                _, body = todo.pop()
            t0 = time.perf_counter()
            status, data = c.post(path, body)
            with lock:
                latency.append(1000 * (time.perf_counter() - t0))
                answers[code_of(status, data)] += 1

    pool = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return [], latency, time.perf_counter() - t0


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path: str, body: Body) -> tuple[int, bytes]:
        for attempt in (1, 2):  # the server closes idle keep-alive connections
            try:
                self.conn.request("POST", path, body=body[0], headers={"Content-Type": body[1]})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def code_of(status: int, data: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        code = json.loads(data).get("code")
        if status != 200 and code is not None:
            return f"{status}/{code}"
    return str(status)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=20, help="timed requests per endpoint")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU to record")
    ap.add_argument("--only", nargs="*", default=None, help="endpoint names to run")
    ap.add_argument("--env", action="append", default=[], help="K=V for the server")
    ap.add_argument("--src", type=Path, default=None, help="serve another source tree")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--images", choices=("mixed", "lfw"), default="mixed", help="see portraits()")
    ap.add_argument(
        "--clients", type=int, default=1, help=">1: that many concurrent clients (see load_run)"
    )
    args = ap.parse_args()
    env_extra = dict(e.split("=", 1) for e in args.env)
    load0 = os.getloadavg()[0]
    results: dict[str, Any] = {}
    with running_server(
        port=args.port, src=args.src, env_extra=env_extra, workers=args.workers
    ) as served:
        pid = served.proc.pid
        client = Client(served.port)
        status, data = client.post(f"{API}/pub_key", (b"", "application/json"))
        jwk = json.loads(data)["jwk"]
        eps = endpoints(jwk, max(args.n, 8), args.images)
        names = [k for k in eps if args.only is None or k in args.only]
        for name in names:  # every code path warm before the idle reading
            path, make = eps[name]
            for i in range(args.warmup):
                client.post(path, make(i))
        s0 = threads(pid)
        time.sleep(args.idle)
        idle = by_thread(s0, threads(pid))
        print(
            f"server: {'src ' + str(args.src) if args.src else 'this tree'}, 1 worker, "
            f"env {env_extra or '-'}; {os.cpu_count()} CPUs, load average {load0:.1f} at start"
        )
        print(f"idle {args.idle:.0f} s: {sum(idle.values()) / 1e6:.1f} ms CPU", end="")
        print("".join(f"  [{k}] {v / 1e6:.1f}" for k, v in idle.most_common(5) if v > 0))
        header = (
            f"{'endpoint':27s} {'median':>7s} {'mean':>7s} {'budget':>7s} "
            f"{'req/s/core':>10s} {'ratio':>6s}  answers"
        )
        print("CPU ms per request, all threads of the server process tree\n" + header)
        for name in names:
            path, make = eps[name]
            cpu: list[float] = []
            answers: Counter[str] = Counter()
            bodies = [make(args.warmup + i) for i in range(args.n)]
            start = threads(pid)
            if args.clients > 1:
                cpu, latency, wall = load_run(served.port, path, bodies, args.clients, answers)
                extra = (
                    f"  {len(bodies) / wall:.1f} req/s, p50 {statistics.median(latency):.0f} ms,"
                    f" p99 {percentile(latency, 99):.0f} ms"
                )
                cpu = [(total_ns(threads(pid)) - total_ns(start)) / 1e6 / len(bodies)]
            else:
                extra = ""
                for body in bodies:
                    c0 = total_ns(threads(pid))
                    status, data = client.post(path, body)
                    cpu.append((total_ns(threads(pid)) - c0) / 1e6)
                    answers[code_of(status, data)] += 1
            per_thread = by_thread(start, threads(pid))
            ref = REFERENCE_PER_CORE.get(name, math.nan)
            mean = statistics.fmean(cpu)
            rate = 1000.0 / mean
            print(
                f"{name:27s} {statistics.median(cpu):7.1f} {mean:7.1f} "
                f"{1000.0 / (GOAL * ref):7.1f} {rate:10.2f} {rate / ref:5.0f}x  "
                + " ".join(f"{k}:{v}" for k, v in sorted(answers.items()))
                + extra
            )
            print("    " + thread_summary(per_thread))
            results[name] = {
                "cpu_ms": cpu,
                "median_ms": statistics.median(cpu),
                "mean_ms": mean,
                "budget_ms": 1000.0 / (GOAL * ref),
                "per_core": rate,
                "ratio": rate / ref,
                "answers": dict(answers),
                "threads_ms": {k: v / 1e6 for k, v in per_thread.items()},
            }
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
