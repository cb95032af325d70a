"""Soak: a real ``faceproof serve`` at 80 % of its measured peak, mixed endpoints, 10 minutes.

    python bench/soak.py [--minutes 10] [--warmup 90] [--workers 2] [--share 0.8]
                         [--peak-json var/bench/load-….json | --rate R] [--endpoints …]
    python bench/soak.py --server http://127.0.0.1:8080 --pid 12345 --rate 6

The offered load is open-loop: requests start at a fixed rate whatever the answers take (as
users arrive), each to the next endpoint of a seeded shuffled cycle over ``--endpoints``
(default: all of bench/load.py's; /process as the SDK sends it, with its challenge), built
and sent as bench/load.py does (faceproof.client, fresh envelopes, real images). /process's
challenge captures come from bench/load.py's pool (``load.CaptureSource``), filled with
30 s of them (``AHEAD_S``) before the load starts and topped up by a task while it runs
(challenges live 2 minutes: a 10-minute soak cannot build them all first); the pool lights
each clip frame once per screen colour and reuses it (``prelit``), so a capture costs
~40 ms of the generator's CPU instead of ~340 ms, and the generator does not take the
server's CPU at the rates a soak offers (its CPU share over the load is printed). The rate is
``--share`` of the mix's peak: with peaks P_i (requests/s of endpoint i at its best
concurrency) and equal numbers of each, the mix's peak is n / Σ 1/P_i. The peaks come from
``--peak-json`` (a bench/load.py result), else they are measured first on the same server
(one bench/load.py step per endpoint at 2 × workers clients); ``--rate`` sets the rate itself.
At most ``--max-inflight`` requests are open at once; an arrival beyond that is counted as
dropped (the server fell behind), never queued in the generator.

Every ``--sample`` seconds each worker's RSS, peak RSS, threads and open descriptors are
read from /proc. Criteria, each printed as pass/fail (exit status 1 if one fails):

* RSS growth < 10 % per worker: median RSS of the last minute of load against the median of
  the first minute after the warm-up;
* zero 5xx answers and zero transport failures (4xx refusals of these images are answers);
* no descriptor growth per worker: the fewest descriptors seen in the last minute are no
  more than the fewest seen in the first minute after the warm-up (the floor is what a leak
  raises; the count above it is the client connections open at that moment). After the
  run, with the client's connections closed, the idle count is printed beside the count
  before the load;
* no worker replaced during the run, and no arrival dropped.

The machine may be shared: say how busy it was (the load average is printed) when quoting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import load
from serving import running_server

#: Length of the windows compared (first after the warm-up, last of the run), seconds.
WINDOW_S = 60.0
#: Seconds of /process arrivals whose captures are built before the load and kept ready.
AHEAD_S = 30.0


def mixed_peak(peaks: dict[str, float]) -> float:
    """Requests/s of an even mix when each endpoint alone peaks at ``peaks[name]``."""
    return len(peaks) / sum(1 / p for p in peaks.values())


def peaks_from_json(path: Path, endpoints: Sequence[str]) -> dict[str, float]:
    doc = json.loads(path.read_text())
    best = doc.get("best", {})
    missing = [e for e in endpoints if e not in best]
    if missing:
        raise SystemExit(f"{path} has no measurement of {missing}")
    return {e: float(best[e]["rps"]) for e in endpoints}


def window(samples: list[dict[str, Any]], lo: float, hi: float) -> list[dict[str, Any]]:
    return [s for s in samples if lo <= s["t"] <= hi]


def criteria(
    samples: list[dict[str, Any]],
    warm_t: float,
    end_t: float,
    codes: Counter[str],
    dropped: int,
    workers: list[int],
) -> list[tuple[str, bool, str]]:
    """(criterion, passed, what was measured) for the run's samples and answers."""
    first = window(samples, warm_t, warm_t + WINDOW_S)
    last = window(samples, end_t - WINDOW_S, end_t)
    out: list[tuple[str, bool, str]] = []
    for pid in workers:
        key = str(pid)
        rss0 = [s["workers"][key]["VmRSS"] for s in first if "VmRSS" in s["workers"].get(key, {})]
        rss1 = [s["workers"][key]["VmRSS"] for s in last if "VmRSS" in s["workers"].get(key, {})]
        fd0 = [s["workers"][key]["fds"] for s in first if "fds" in s["workers"].get(key, {})]
        fd1 = [s["workers"][key]["fds"] for s in last if "fds" in s["workers"].get(key, {})]
        if not (rss0 and rss1 and fd0 and fd1):
            out.append((f"worker {pid} sampled in both windows", False, "missing samples"))
            continue
        m0, m1 = statistics.median(rss0), statistics.median(rss1)
        growth = (m1 - m0) / m0 * 100
        out.append(
            (
                f"worker {pid} RSS growth < 10 %",
                growth < 10.0,
                f"{m0:.0f} → {m1:.0f} MB ({growth:+.1f} %), peak {max(rss0 + rss1):.0f} MB",
            )
        )
        out.append(
            (
                f"worker {pid} no descriptor growth",
                min(fd1) <= min(fd0),
                f"floor {min(fd0):.0f} → {min(fd1):.0f} (max {max(fd0):.0f} → {max(fd1):.0f})",
            )
        )
    five = sum(n for k, n in codes.items() if k.startswith("5"))
    transport = sum(n for k, n in codes.items() if k.startswith("transport"))
    out.append(("zero 5xx", five == 0, f"{five} of {sum(codes.values())} answers"))
    out.append(("zero transport failures", transport == 0, str(transport)))
    out.append(("no arrival dropped", dropped == 0, str(dropped)))
    return out


class Soak:
    def __init__(self, args: argparse.Namespace, url: str, pid: int) -> None:
        self.args = args
        self.url = url
        self.pid = pid
        self.codes: Counter[str] = Counter()
        self.by_endpoint: dict[str, Counter[str]] = {}
        self.latency: dict[str, list[float]] = {}
        self.samples: list[dict[str, Any]] = []
        self.dropped = 0
        self.inflight = 0
        self.keeper: asyncio.Task[None] | None = None
        self.captures: Any = None

    async def _one(self, ep: load.Endpoint, fp: Any, rng: random.Random) -> None:
        """One request (``inflight`` was counted up when it was scheduled)."""
        try:
            answer = await load.timed_call(ep, fp, rng)
        finally:
            self.inflight -= 1
        key = load.code_key(answer)
        self.codes[key] += 1
        self.by_endpoint.setdefault(ep.name, Counter())[key] += 1
        self.latency.setdefault(ep.name, []).append(answer.ms)

    def _sample(self, t: float) -> dict[str, Any]:
        stats = {str(w): load.proc_status(w) for w in load.workers_of(self.pid)}
        return {"t": round(t, 1), "workers": stats, "inflight": self.inflight}

    async def run(self, rate: float, endpoints: dict[str, load.Endpoint]) -> dict[str, Any]:
        import httpx

        from faceproof.client import AsyncFaceproofClient

        args = self.args
        limits = httpx.Limits(
            max_connections=args.max_inflight, max_keepalive_connections=args.max_inflight
        )
        names = list(args.endpoints)
        cycle_rng = random.Random(11)
        async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
            fp = AsyncFaceproofClient(self.url, http=http)
            await fp.pub_key()
            workers0 = load.workers_of(self.pid)
            print("idle: " + _fmt(self._sample(0.0)["workers"]), flush=True)
            cpu0, answered0 = load.tree_cpu(self.pid), 0
            gen0 = load.own_cpu()
            spot0 = self.captures.on_the_spot if self.captures is not None else 0
            tasks: set[asyncio.Task[None]] = set()
            t0 = time.monotonic()
            end = t0 + args.minutes * 60
            next_sample = t0 + args.sample
            warm_cpu: dict[int, float] | None = None
            order: list[str] = []
            k = 0
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if now >= next_sample:
                    self.samples.append(self._sample(now - t0))
                    next_sample += args.sample
                    if warm_cpu is None and now - t0 >= args.warmup:
                        warm_cpu, answered0 = load.tree_cpu(self.pid), sum(self.codes.values())
                        print(
                            f"after warm-up ({now - t0:.0f} s): "
                            + _fmt(self.samples[-1]["workers"]),
                            flush=True,
                        )
                arrival = t0 + k / rate
                if arrival > now:
                    await asyncio.sleep(min(arrival, next_sample, end) - now)
                    continue
                k += 1
                if not order:
                    order = names[:]
                    cycle_rng.shuffle(order)
                ep = endpoints[order.pop()]
                if self.inflight >= args.max_inflight:
                    self.dropped += 1
                    continue
                self.inflight += 1
                task = asyncio.create_task(self._one(ep, fp, random.Random(k)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            load_end = time.monotonic() - t0
            if self.keeper is not None:  # stop building captures: the load is over
                self.keeper.cancel()
            cpu_end, answered_end = load.tree_cpu(self.pid), sum(self.codes.values())
            generator_s = load.own_cpu() - gen0
            await asyncio.gather(*tasks)
            workers1 = load.workers_of(self.pid)
        await asyncio.sleep(7)  # the server closes idle keep-alive connections after 5 s
        after = self._sample(time.monotonic() - t0)["workers"]
        print("idle after the run, client disconnected: " + _fmt(after), flush=True)
        spent = load.cpu_between(warm_cpu or cpu0, cpu_end)[0]
        return {
            "rate": rate,
            "offered": k,
            "load_seconds": load_end,
            "warm_t": args.warmup,
            "workers_start": workers0,
            "workers_end": workers1,
            "cpu_s_per_answer_after_warmup": spent / max(1, answered_end - answered0),
            # This process (senders and capture top-up) over the load, in cores.
            "generator_cores": generator_s / max(load_end, 1e-9),
            "captures_built_on_the_spot": (
                self.captures.on_the_spot - spot0 if self.captures is not None else 0
            ),
        }


def _fmt(stats: dict[str, dict[str, float]]) -> str:
    return ", ".join(
        f"worker {pid}: RSS {s.get('VmRSS', 0):.0f} MB, fds {s.get('fds', 0):.0f}, "
        f"threads {s.get('Threads', 0):.0f}"
        for pid, s in stats.items()
    )


async def measure_peaks(
    args: argparse.Namespace, url: str, pid: int, endpoints: dict[str, load.Endpoint], captures: Any
) -> dict[str, float]:
    peaks = {}
    c = 2 * max(1, len(load.workers_of(pid)))
    for i, name in enumerate(args.endpoints):
        extra = 0.0
        if name == "process":
            extra = await load.fill_captures(
                captures, pid, 2.0, c, args.warmup_step + args.duration
            )
        s = await load.run_step(
            endpoints[name],
            url,
            pid,
            c,
            args.duration,
            args.warmup_step,
            seed=i,
            captures=captures if name == "process" else None,
            extra_cpu_s=extra,
            min_answers=args.min_answers,
        )
        print(load.text_table(load.STEP_HEADERS, [load.step_row(s)]).splitlines()[-1], flush=True)
        peaks[name] = s.rps
    return peaks


async def soak(args: argparse.Namespace, url: str, pid: int) -> int:
    import httpx

    from faceproof.client import AsyncFaceproofClient

    material = load.load_material()
    async with httpx.AsyncClient(timeout=120.0) as http:
        captures = None
        if "process" in args.endpoints:
            captures = load.CaptureSource(AsyncFaceproofClient(url, http=http), prelit=True)
        endpoints = load.endpoints_for(material, captures)
        if args.rate:
            rate, peaks = args.rate, {}
        else:
            if args.peak_json:
                peaks = peaks_from_json(args.peak_json, args.endpoints)
                print(f"peaks from {args.peak_json}", flush=True)
            else:
                print("measuring each endpoint's peak first (bench/load.py steps):", flush=True)
                print(load.text_table(load.STEP_HEADERS, []), flush=True)
                peaks = await measure_peaks(args, url, pid, endpoints, captures)
            rate = args.share * mixed_peak(peaks)
        print(
            f"\nsoak: {rate:.2f} requests/s ({args.share:.0%} of the mix's peak "
            f"{rate / args.share:.2f}/s) for {args.minutes:g} min over {', '.join(args.endpoints)};"
            f" load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        runner = Soak(args, url, pid)
        runner.captures = captures
        keeper = None
        if captures is not None:  # /process's captures built before the load, then topped up
            ahead = math.ceil(rate / len(args.endpoints) * AHEAD_S) + 2
            gen0, t_build = load.own_cpu(), time.monotonic()
            keeper = runner.keeper = asyncio.create_task(captures.keep(ahead))
            while len(captures.pool) < ahead:
                await asyncio.sleep(0.5)
            print(
                f"built {ahead} challenge captures before the load in "
                f"{time.monotonic() - t_build:.0f} s ({load.own_cpu() - gen0:.1f} s CPU here; "
                f"{captures.build_s * 1000:.0f} ms CPU per capture now)",
                flush=True,
            )
        try:
            info = await runner.run(rate, endpoints)
        finally:
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
    warm_t, end_t = args.warmup, info["load_seconds"]
    checks = criteria(
        runner.samples, warm_t, end_t, runner.codes, runner.dropped, info["workers_start"]
    )
    replaced = sorted(set(info["workers_start"]) ^ set(info["workers_end"]))
    checks.append(("no worker replaced", not replaced, str(replaced or "none")))
    answered = sum(runner.codes.values())
    print(
        f"\n{info['offered']} requests offered in {end_t:.0f} s ({info['offered'] / end_t:.2f}/s),"
        f" {answered} answered, server CPU {info['cpu_s_per_answer_after_warmup'] * 1000:.0f} ms"
        f" per answer after the warm-up; load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"load generator (this process: senders, capture top-up) used "
        f"{info['generator_cores']:.2f} cores over the load; captures built on the spot "
        f"(pool empty): {info['captures_built_on_the_spot']}"
    )
    for key, n in sorted(runner.codes.items()):
        print(f"  {key}: {n}")
    rows = []
    for name, codes in sorted(runner.by_endpoint.items()):
        ms = runner.latency[name]
        rows.append(
            [
                load.PATHS[name] + f" ({name})",
                sum(codes.values()),
                load.fmt(load.percentile(ms, 50), 0),
                load.fmt(load.percentile(ms, 99), 0),
                ", ".join(f"{k}: {n}" for k, n in sorted(codes.items())),
            ]
        )
    print(load.text_table(["endpoint", "answers", "p50 ms", "p99 ms", "by code"], rows))
    print()
    for what, ok, measured in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}: {measured}")
    passed = all(ok for _, ok, _ in checks)
    print("soak " + ("passed" if passed else "FAILED"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "peaks": peaks,
            **info,
            "codes": dict(runner.codes),
            "by_endpoint": {k: dict(v) for k, v in runner.by_endpoint.items()},
            "dropped": runner.dropped,
            "criteria": [{"what": w, "pass": ok, "measured": m} for w, ok, m in checks],
            "samples": runner.samples,
        }
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 0 if passed else 1


def recheck(path: Path, warmup: float) -> int:
    """The criteria of a saved run, with the first window starting at ``warmup`` s (e.g. when
    the samples show that the warm-up lasted longer than the run assumed)."""
    doc = json.loads(path.read_text())
    codes = Counter({k: int(v) for k, v in doc["codes"].items()})
    workers = [int(w) for w in doc["workers_start"]]
    checks = criteria(
        doc["samples"], warmup, float(doc["load_seconds"]), codes, int(doc["dropped"]), workers
    )
    print(f"{path}: first window from {warmup:g} s, last window ending {doc['load_seconds']:.0f} s")
    for what, ok, measured in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}: {measured}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=10.0, help="total load time")
    ap.add_argument("--warmup", type=float, default=90.0, help="seconds before the baseline")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--env", action="append", default=[], help="K=V for the server started")
    ap.add_argument("--server", help="soak this running server instead (needs --pid)")
    ap.add_argument("--pid", type=int, help="the running server's main pid")
    ap.add_argument(
        "--endpoints",
        type=lambda t: load.parse_list(t, load.ENDPOINT_NAMES),
        default=list(load.DEFAULT_ENDPOINTS),
    )
    ap.add_argument("--rate", type=float, help="requests/s offered (default: share of peak)")
    ap.add_argument("--share", type=float, default=0.8, help="share of the mix's peak")
    ap.add_argument("--peak-json", type=Path, help="a bench/load.py JSON with the peaks")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per peak step")
    ap.add_argument("--warmup-step", type=float, default=4.0, help="warm-up per peak step")
    ap.add_argument("--min-answers", type=int, default=30, help="answers per peak step")
    ap.add_argument("--max-inflight", type=int, default=32)
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    ap.add_argument("--json", type=Path, help="where the samples and counts go")
    ap.add_argument(
        "--recheck",
        type=Path,
        help="no load: judge a soak's saved JSON again, with this --warmup as the baseline",
    )
    args = ap.parse_args(argv)
    if args.recheck:
        return recheck(args.recheck, args.warmup)
    # SIGTERM unwinds like Ctrl-C, so the server this bench started is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.server and not args.pid:
        raise SystemExit("--server needs --pid")
    if args.minutes * 60 < args.warmup + 2 * WINDOW_S:
        raise SystemExit(f"--minutes must leave two {WINDOW_S:.0f} s windows after the warm-up")
    if args.json is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        args.json = load.OUT_DIR / f"soak-{stamp}.json"
    if args.server:
        return asyncio.run(soak(args, args.server.rstrip("/"), args.pid))
    env = {**load.BENCH_ENV, **dict(e.split("=", 1) for e in args.env)}
    with running_server(workers=args.workers, port=args.port, env_extra=env) as served:
        print(f"server pid {served.proc.pid} at {served.url}, env {env}", flush=True)
        return asyncio.run(soak(args, served.url, served.proc.pid))


if __name__ == "__main__":
    raise SystemExit(main())
