"""Load benchmark: a concurrency sweep per endpoint on a real ``faceproof serve``, CPU per request.

    python bench/load.py [--endpoints generate,match-selfie,...] [--concurrency 1,2,4,8]
                         [--duration 20] [--warmup 4] [--workers 2] [--env K=V ...]
    python bench/load.py --server http://127.0.0.1:8080 --pid 12345   # a server already running

For every endpoint and concurrency C, C clients send requests back to back (closed loop) for
``--warmup`` seconds (not counted), then ``--duration`` seconds that are measured:

* requests/s and latency p50/p95/p99 of the answers completed in the window;
* answers by HTTP status and the reference's ``code`` (4xx refusals such as 510 are answers;
  5xx and transport failures are errors);
* **server CPU seconds per request**: utime+stime summed over every process of the server's
  tree (the uvicorn parent, its workers and any children, all threads: ``/proc/PID/stat``
  counts a process's threads, exited ones included) from /proc, read just before and after
  the window, divided by the answers in the window. The load generator is not in that tree;
* worker RSS after the step, and the generator's own CPU (it shares the machine's cores).

The concurrency of best throughput is picked per endpoint, and a table gives requests/s per
core both as 1 / (CPU seconds per request) and as measured requests/s ÷ cores, beside the
reference's published per-core figure and the ratio (see ``REFERENCE``). JSON and Markdown
go to ``var/bench/load-<UTC time>.json|.md`` (var/ is git-ignored).

Requests: real images of ../shared/data through :class:`faceproof.client.AsyncFaceproofClient`
(one asyncio process, one connection per concurrent client). Capture endpoints get a fresh
envelope per request (new nonce, current time) of a 640×480 webcam frame of the live clip;
``process`` is what the SDK sends at the default level (BALANCED_VERY_HIGH): a challenge
(``POST /api/v1/challenge``, counted in the server's CPU) answered with real frames moved into
its ovals and lit by its colours (tests/challenge_capture.py), built by one generator thread
ahead of the senders. Image endpoints get 640×480 / 480×640 portraits (DeepFace unit photos
fitted as an SDK frames them) and webcam frames. The machine may be shared: the load average
is recorded with every step; CPU per request is the robust figure, req/s the fragile one.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import random
import resource
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from serving import process_tree, running_server, worker_pids  # noqa: E402

DATA = REPO / ".." / "shared" / "data"
OUT_DIR = REPO / "var" / "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")

#: The reference's throughput tables ("Hardware requirements", AWS c5a instances), requests/s
#: for 4, 8, 16 and 32 cores (vCPUs). /process: the "≥ BVH" row, desktop captures.
#: Per core we take the best of the four sizes (the figure most favourable to the reference,
#: so our ratio is a lower bound); the 4-core figure / 4 is kept beside it.
REFERENCE: dict[str, dict[int, float]] = {
    "process": {4: 0.46, 8: 1.03, 16: 1.76, 32: 2.95},
    "match-selfie": {4: 2.13, 8: 4.2, 16: 8.2, 32: 15.96},
    "match-picture-id": {4: 1.47, 8: 3.02, 16: 5.88, 32: 11.29},
    "secure-as": {4: 0.7, 8: 1.49, 16: 2.5, 32: 5.11},
    "face-as": {4: 0.45, 8: 0.9, 16: 1.73, 32: 3.26},
    "generate": {4: 4.04, 8: 8.24, 16: 16.25, 32: 31.45},
}


def reference_per_core(name: str) -> tuple[float, float] | None:
    """(best requests/s per core over the four instance sizes, the 4-core figure / 4)."""
    table = REFERENCE.get(REFERENCE_OF.get(name, name))
    if not table:
        return None
    return max(rps / cores for cores, rps in table.items()), table[4] / 4


#: Settings of the server this bench starts (``--env`` overrides): the abuse limits are per
#: client address, and every request here comes from one address standing for many users.
BENCH_ENV = {"FACEPROOF_ABUSE_FAILURES": "0", "FACEPROOF_CHALLENGE_RATE": "0"}


# -- measuring the server from /proc ----------------------------------------------------------
def process_cpu_seconds(pid: int) -> float | None:
    """utime+stime of one process, all its threads (exited ones too), in seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces or parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of every process in the tree of ``pid``."""
    out = {}
    for p in process_tree(pid):
        cpu = process_cpu_seconds(p)
        if cpu is not None:
            out[p] = cpu
    return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> tuple[float, list[int]]:
    """CPU seconds the tree spent between two readings, and the pids that went away (their
    CPU after ``before`` is lost: a worker that died mid-step makes the figure a lower bound).
    A process born in between counts whole."""
    spent = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    return spent, sorted(set(before) - set(after))


def proc_status(pid: int) -> dict[str, float]:
    """RSS and peak RSS (MB), threads and open descriptors of one process."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = float(value.split()[0]) / 1024
            elif key == "Threads":
                out[key] = float(value.split()[0])
        out["fds"] = float(len(os.listdir(f"/proc/{pid}/fd")))
    except OSError:
        pass
    return out


def workers_of(pid: int) -> list[int]:
    """The worker processes of a server (the server itself when it runs in one process)."""
    return worker_pids(pid) or [pid]


# -- statistics and tables --------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between order statistics
    (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(lines)


# -- request material -------------------------------------------------------------------------
@dataclass
class Material:
    """Real images as JPEG bytes: capture frames (640×480 webcam) and portraits (640×480 or
    480×640) with their identities for mated/non-mated pairs."""

    frames: list[bytes]
    portraits: list[bytes]
    identity: list[str]

    def pair(self, rng: random.Random) -> tuple[bytes, bytes]:
        """Two portraits, of the same person half the time."""
        i = rng.randrange(len(self.portraits))
        same = [j for j, who in enumerate(self.identity) if who == self.identity[i] and j != i]
        if same and rng.random() < 0.5:
            return self.portraits[i], self.portraits[rng.choice(same)]
        return self.portraits[i], self.portraits[rng.randrange(len(self.portraits))]


def load_material(n_frames: int = 40) -> Material:
    from imaging import LIVE_VIDEO, encode, fit, load_rgb, video_frames

    frames = [encode(f) for f in video_frames(LIVE_VIDEO, step=7, limit=n_frames)]
    root = DATA / "verify" / "extra" / "deepface_unit_dataset"
    portraits, identity = [], []
    with (root / "identities.csv").open() as f:
        for row in csv.DictReader(f):
            rgb = load_rgb(root / row["path"])
            h, w = rgb.shape[:2]
            portraits.append(encode(fit(rgb, 480, 640) if h >= w else fit(rgb, 640, 480)))
            identity.append(row["identity"])
    if not frames or not portraits:
        raise SystemExit(f"no images under {DATA}")
    # The webcam frames are one person: portraits for the image endpoints too.
    portraits += frames[::2]
    identity += ["webcam"] * len(frames[::2])
    return Material(frames, portraits, identity)


# -- endpoints --------------------------------------------------------------------------------
Call = Callable[[Any, random.Random], Awaitable[object]]


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    what: str
    call: Call


def endpoints_for(m: Material, captures: CaptureSource | None) -> dict[str, Endpoint]:
    async def process(fp: Any, rng: random.Random) -> object:
        assert captures is not None
        return await fp.process(await captures.get())

    async def process_passive(fp: Any, rng: random.Random) -> object:
        return await fp.process([rng.choice(m.frames)])

    async def match_selfie(fp: Any, rng: random.Random) -> object:
        return await fp.match_with_selfie(*m.pair(rng), "HIGH")

    async def match_picture_id(fp: Any, rng: random.Random) -> object:
        return await fp.match_with_picture_id(*m.pair(rng), "HIGH")

    async def verify(fp: Any, rng: random.Random) -> object:
        return await fp.verify_with_picture_id([rng.choice(m.frames)], rng.choice(m.frames), "HIGH")

    async def secure_as(fp: Any, rng: random.Random) -> object:
        return await fp.secure_liveness([rng.choice(m.frames)])

    async def face_as(fp: Any, rng: random.Random) -> object:
        return await fp.liveness(rng.choice(m.portraits), "BALANCED_VERY_HIGH")

    async def generate(fp: Any, rng: random.Random) -> object:
        return await fp.generate_template(rng.choice(m.portraits), "ENROL")

    eps = [
        Endpoint(
            "process",
            "/process",
            "SDK capture with a challenge (+ POST /challenge), default level BVH",
            process,
        ),
        Endpoint("process-passive", "/process", "one-frame capture, no challenge", process_passive),
        Endpoint("match-selfie", "/matchWithSelfie", "portrait pairs, level HIGH", match_selfie),
        Endpoint(
            "match-picture-id", "/matchWithPictureId", "portrait pairs, HIGH", match_picture_id
        ),
        Endpoint("verify", "/verifyWithPictureId", "one-frame capture + portrait, HIGH", verify),
        Endpoint("secure-as", "/secure/face/as", "one-frame capture, default level", secure_as),
        Endpoint("face-as", "/face/as", "portrait, BALANCED_VERY_HIGH", face_as),
        Endpoint(
            "generate",
            "/face/generateTemplateFromImage",
            "portrait, qualityMode ENROL (default)",
            generate,
        ),
    ]
    return {e.name: e for e in eps}


ENDPOINT_NAMES = (
    "process",
    "process-passive",
    "match-selfie",
    "match-picture-id",
    "verify",
    "secure-as",
    "face-as",
    "generate",
)
DEFAULT_ENDPOINTS = tuple(n for n in ENDPOINT_NAMES if n != "process-passive")
#: Endpoints compared with another endpoint's reference figure.
REFERENCE_OF = {"process-passive": "process"}


class CaptureSource:
    """Challenge captures, built before each step so that building them (about 0.3 s of CPU
    each, mostly the simulated screen light) does not compete with the server in the window.

    Each capture asks the server for a challenge and answers it the way
    ``tests/challenge_capture.py`` does (the live clip's far and near frames moved into the
    issued ovals, the light frames lit by the issued colours), sealed in a fresh envelope.
    The two face boxes come from the engine once (the clip's frames do not change).
    Challenges live 2 minutes: a capture older than ``max_age_s`` is dropped. When the pool
    runs dry in a step, senders build on the spot (counted: the step's rate is then partly
    the generator's).

    ``prelit``: light each clip frame once per colour and reuse it (``challenge_capture.answer``
    ``lit``), ~40 instead of ~340 ms of CPU per capture once the cache is full: for the soak,
    which builds captures while it loads the server (challenges live 2 minutes, so a
    10-minute run cannot build them all first)."""

    def __init__(self, fp: Any, max_age_s: float = 100.0, *, prelit: bool = False) -> None:
        self.fp = fp
        self._lit: dict[Any, Any] | None = {} if prelit else None
        self.pool: deque[tuple[float, bytes]] = deque()
        self.max_age_s = max_age_s
        self.build_s = 0.3  # CPU per capture, measured as they are built
        self.build_wall_s = 0.5  # wall time per capture (a busy machine makes it longer)
        self.on_the_spot = 0
        self.stale = 0
        self._boxes: dict[int, Any] = {}
        self._engine: Any = None
        self._jwk: dict[str, Any] | None = None
        self._seed = 0
        self._ready = asyncio.Lock()
        self.challenge_cpu_s = 0.0  # server CPU per /challenge, as last measured

    def _prepare(self) -> None:
        from challenge_capture import FAR, NEAR, clip
        from faceproof.pipeline.engine import FaceEngine

        models = Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models"))
        self._engine = FaceEngine(models)
        for i in (FAR, NEAR):  # the only frames ``answer`` looks for a face in
            self.find_faces(clip()[i], "selfie")

    def find_faces(self, rgb: Any, mode: Any) -> Any:
        """The engine's detector, once per clip frame (``answer`` asks for every capture)."""
        key = id(rgb)
        if key not in self._boxes:
            self._boxes[key] = self._engine.find_faces(rgb, mode)
        return self._boxes[key]

    def _build(self, challenge: dict[str, Any], jwk: dict[str, Any], seed: int) -> bytes:
        from challenge_capture import answer

        t0 = time.thread_time()
        token = answer(self, challenge, seed=seed, lit=self._lit).seal(jwk)
        self.build_s = 0.8 * self.build_s + 0.2 * (time.thread_time() - t0)
        return token

    async def one(self) -> bytes:
        """A new capture: a challenge from the server, answered and sealed here."""
        async with self._ready:
            if self._engine is None:
                await asyncio.to_thread(self._prepare)
            if self._jwk is None:
                self._jwk = (await self.fp.pub_key()).jwk
        t0 = time.monotonic()
        ch = (await self.fp.challenge()).challenge.model_dump()
        self._seed += 1
        token = await asyncio.to_thread(self._build, ch, self._jwk, self._seed)
        self.build_wall_s = 0.8 * self.build_wall_s + 0.2 * (time.monotonic() - t0)
        return token

    def _drop_stale(self, keep_s: float) -> None:
        while self.pool and time.monotonic() - self.pool[0][0] > self.max_age_s - keep_s:
            self.pool.popleft()
            self.stale += 1

    def capacity(self, keep_s: float) -> int:
        """How many can be built and still be fresh ``keep_s`` seconds after the last."""
        return max(1, int((self.max_age_s - keep_s - 5) / max(self.build_wall_s, 0.05)))

    async def fill(self, n: int, keep_s: float) -> int:
        """Up to ``n`` fresh captures in the pool, each still valid ``keep_s`` s from now;
        returns how many challenges were issued."""
        self._drop_stale(keep_s)
        issued = 0
        while len(self.pool) < min(n, self.capacity(keep_s)):
            token = await self.one()
            issued += 1
            self.pool.append((time.monotonic(), token))
            self._drop_stale(keep_s)
        return issued

    async def keep(self, n: int) -> None:
        """Keep ``n`` fresh captures ready, until cancelled (the soak: steady use)."""
        while True:
            self._drop_stale(10.0)
            if len(self.pool) < n:
                self.pool.append((time.monotonic(), await self.one()))
            else:
                await asyncio.sleep(0.2)

    async def get(self) -> bytes:
        while self.pool:
            made, token = self.pool.popleft()
            if time.monotonic() - made <= self.max_age_s:
                return token
            self.stale += 1
        self.on_the_spot += 1
        return await self.one()


# -- running a step ---------------------------------------------------------------------------
@dataclass
class Answer:
    done: float  # time.monotonic() when the answer was complete
    ms: float
    status: int | None  # None: no HTTP answer (transport error)
    code: int | None  # the reference's code in the body, for non-200 answers
    name: str = ""


def outcome_of(exc: BaseException | None) -> tuple[int | None, int | None, str]:
    """(HTTP status, reference code, error name) of a call that returned or raised."""
    from faceproof.client import FaceproofError, TransportError

    if exc is None:
        return 200, None, ""
    if isinstance(exc, TransportError):
        return None, None, exc.description.split(":", 1)[0]
    if isinstance(exc, FaceproofError):
        return exc.http_status, exc.code, exc.name
    return None, None, type(exc).__name__


@dataclass
class StepResult:
    endpoint: str
    concurrency: int
    duration_s: float
    answers: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    by_code: dict[str, int]
    errors: int  # 5xx + transport failures
    cpu_s: float
    cpu_s_per_request: float  # extra_cpu_s_per_request included
    extra_cpu_s_per_request: float
    generator_cpu_s: float
    worker_rss_mb: dict[str, float]
    worker_peak_mb: dict[str, float]
    load_average: float
    lost_pids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def code_key(a: Answer) -> str:
    if a.status is None:
        return f"transport {a.name}"
    if a.status == 200:
        return "200"
    return f"{a.status} {a.code or ''} {a.name}".strip()


async def timed_call(ep: Endpoint, fp: Any, rng: random.Random) -> Answer:
    """One request, timed and classified (a failure is an answer to count, never raised)."""
    t0 = time.perf_counter()
    err: BaseException | None = None
    try:
        await ep.call(fp, rng)
    except Exception as exc:  # every failure is an answer to count
        err = exc
    status, code, name = outcome_of(err)
    return Answer(time.monotonic(), (time.perf_counter() - t0) * 1000, status, code, name)


async def sender(
    ep: Endpoint, fp: Any, rng: random.Random, stop: asyncio.Event, out: list[Answer]
) -> None:
    while not stop.is_set():
        out.append(await timed_call(ep, fp, rng))


async def run_step(
    ep: Endpoint,
    url: str,
    pid: int,
    concurrency: int,
    duration: float,
    warmup: float,
    seed: int,
    captures: CaptureSource | None = None,
    extra_cpu_s: float = 0.0,
    min_answers: int = 0,
) -> StepResult:
    """One step: ``concurrency`` senders for ``warmup`` + ``duration`` s; ``extra_cpu_s``: server
    CPU per request spent outside the window on its behalf (a capture's /challenge)."""
    import httpx

    from faceproof.client import AsyncFaceproofClient

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
        fp = AsyncFaceproofClient(url, http=http)
        await fp.pub_key()
        stop = asyncio.Event()
        out: list[Answer] = []
        spot0 = captures.on_the_spot if captures else 0
        tasks = [
            asyncio.create_task(sender(ep, fp, random.Random(seed * 100 + i), stop, out))
            for i in range(concurrency)
        ]
        await asyncio.sleep(warmup)
        load = os.getloadavg()[0]
        cpu0, gen0, t0 = tree_cpu(pid), own_cpu(), time.monotonic()
        await asyncio.sleep(duration)
        # A slow endpoint gets a longer window (up to 4×) so its percentiles rest on answers.
        while (
            sum(1 for a in out if a.done >= t0) < min_answers
            and time.monotonic() - t0 < 4 * duration
        ):
            await asyncio.sleep(0.5)
        cpu1, gen1, t1 = tree_cpu(pid), own_cpu(), time.monotonic()
        stop.set()
        await asyncio.gather(*tasks)
    window = [a for a in out if t0 <= a.done < t1]
    spent, lost = cpu_between(cpu0, cpu1)
    ms = [a.ms for a in window]
    workers = {str(w): proc_status(w) for w in workers_of(pid)}
    notes = []
    if lost:
        notes.append(f"processes gone during the step: {lost}")
    if captures and captures.on_the_spot > spot0:
        notes.append(f"{captures.on_the_spot - spot0} captures built during the step")
    if not window:
        notes.append("no answer in the window")
    return StepResult(
        endpoint=ep.name,
        concurrency=concurrency,
        duration_s=round(t1 - t0, 2),
        answers=len(window),
        rps=len(window) / (t1 - t0),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        by_code=dict(Counter(code_key(a) for a in window)),
        errors=sum(1 for a in window if a.status is None or a.status >= 500),
        cpu_s=spent,
        cpu_s_per_request=spent / len(window) + extra_cpu_s if window else math.nan,
        extra_cpu_s_per_request=extra_cpu_s,
        generator_cpu_s=gen1 - gen0,
        worker_rss_mb={k: v.get("VmRSS", math.nan) for k, v in workers.items()},
        worker_peak_mb={k: v.get("VmHWM", math.nan) for k, v in workers.items()},
        load_average=load,
        lost_pids=lost,
        notes=notes,
    )


def own_cpu() -> float:
    """This process's CPU (all threads: the senders and the capture builder)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# -- the sweep --------------------------------------------------------------------------------
def best_step(steps: Sequence[StepResult]) -> StepResult:
    """The step of highest throughput; among steps within 3 % of it, the lowest concurrency
    (more clients than that only add queueing)."""
    top = max(s.rps for s in steps)
    return min((s for s in steps if s.rps >= 0.97 * top), key=lambda s: s.concurrency)


def per_core_rows(best: dict[str, StepResult], cores: int) -> list[list[str]]:
    rows = []
    for name, s in best.items():
        by_cpu = 1 / s.cpu_s_per_request if s.cpu_s_per_request > 0 else math.nan
        by_rate = s.rps / cores
        ref = reference_per_core(name)
        ref_best, ref_4 = ref if ref else (math.nan, math.nan)
        rows.append(
            [
                f"{PATHS[name]} ({name})",
                fmt(s.concurrency),
                fmt(s.rps, 2),
                fmt(s.cpu_s_per_request * 1000, 0),
                fmt(by_cpu, 2),
                fmt(by_rate, 2),
                fmt(ref_best, 3),
                fmt(ref_4, 3),
                (fmt(by_cpu / ref_best, 0) + "×") if ref else "—",
                (fmt(by_rate / ref_best, 0) + "×") if ref else "—",
                fmt(s.p99_ms, 0),
                fmt(s.errors),
            ]
        )
    return rows


PER_CORE_HEADERS = (
    "endpoint",
    "best C",
    "req/s",
    "CPU ms/req",
    "req/s/core (1/CPU)",
    "req/s/core (measured)",
    "reference /core (best)",
    "reference /core (4-core)",
    "ratio (1/CPU)",
    "ratio (measured)",
    "p99 ms",
    "errors",
)
STEP_HEADERS = (
    "endpoint",
    "C",
    "answers",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "CPU ms/req",
    "gen CPU %",
    "RSS MB/worker",
    "load",
    "answers by code",
)
PATHS = {
    "process": "/process",
    "process-passive": "/process",
    "match-selfie": "/matchWithSelfie",
    "match-picture-id": "/matchWithPictureId",
    "verify": "/verifyWithPictureId",
    "secure-as": "/secure/face/as",
    "face-as": "/face/as",
    "generate": "/face/generateTemplateFromImage",
}


def step_row(s: StepResult) -> list[str]:
    rss = "/".join(fmt(v, 0) for v in s.worker_rss_mb.values())
    codes = ", ".join(f"{k}: {n}" for k, n in sorted(s.by_code.items()))
    return [
        s.endpoint,
        str(s.concurrency),
        str(s.answers),
        fmt(s.rps, 2),
        fmt(s.p50_ms, 0),
        fmt(s.p95_ms, 0),
        fmt(s.p99_ms, 0),
        fmt(s.cpu_s_per_request * 1000, 0),
        fmt(100 * s.generator_cpu_s / s.duration_s, 0),
        rss,
        fmt(s.load_average, 1),
        codes + (" (" + "; ".join(s.notes) + ")" if s.notes else ""),
    ]


async def fill_captures(
    captures: CaptureSource, pid: int, rate_guess: float, concurrency: int, keep: float
) -> float:
    """Build a step's challenge captures (the step lasts ``keep`` s); returns the server's
    CPU per /challenge while doing so (the pool's challenges are issued outside the step's
    window, their cost is added back to each /process)."""
    need = math.ceil(rate_guess * keep * 1.25) + concurrency
    before, t0 = tree_cpu(pid), time.monotonic()
    issued = await captures.fill(need, keep_s=keep)
    spent = cpu_between(before, tree_cpu(pid))[0]
    per = spent / issued if issued else 0.0
    print(
        f"  built {issued} challenge captures in {time.monotonic() - t0:.0f} s "
        f"({captures.build_s:.2f} s CPU each here), pool {len(captures.pool)}; "
        f"server CPU per /challenge {per * 1000:.1f} ms",
        flush=True,
    )
    if not issued:
        return captures.challenge_cpu_s
    captures.challenge_cpu_s = per
    return per


async def sweep(args: argparse.Namespace, url: str, pid: int) -> dict[str, list[StepResult]]:
    import httpx

    from faceproof.client import AsyncFaceproofClient

    material = load_material()
    print(text_table(STEP_HEADERS, []), flush=True)
    results: dict[str, list[StepResult]] = {}
    async with httpx.AsyncClient(timeout=120.0) as http:
        captures = None
        if "process" in args.endpoints:
            captures = CaptureSource(AsyncFaceproofClient(url, http=http))
        endpoints = endpoints_for(material, captures)
        for k, name in enumerate(args.endpoints):
            ep = endpoints[name]
            rate_guess = 1.0
            for c in args.concurrency:
                extra = 0.0
                if name == "process" and captures is not None:
                    extra = await fill_captures(
                        captures, pid, rate_guess, c, args.warmup + args.duration
                    )
                s = await run_step(
                    ep,
                    url,
                    pid,
                    c,
                    args.duration,
                    args.warmup,
                    seed=k * 1000 + c,
                    captures=captures if name == "process" else None,
                    extra_cpu_s=extra,
                    min_answers=args.min_answers,
                )
                rate_guess = max(1.0, 1.5 * s.rps)
                results.setdefault(name, []).append(s)
                print(text_table(STEP_HEADERS, [step_row(s)]).splitlines()[-1], flush=True)
    return results


def report(
    results: dict[str, list[StepResult]], args: argparse.Namespace, meta: dict[str, Any]
) -> tuple[str, str]:
    cores = meta["cores"]
    best = {name: best_step(steps) for name, steps in results.items() if steps}
    steps = [s for ss in results.values() for s in ss]
    head = (
        f"faceproof load benchmark, {meta['started']} UTC: server {meta['server']}, "
        f"{meta['workers']} worker(s), {cores} cores (vCPUs) on this machine, shared with the "
        f"load generator (one asyncio process; its CPU is the 'gen CPU %' column and is not "
        f"counted as server CPU); warm-up {args.warmup:g} s + {args.duration:g} s measured per "
        f"step; load average {meta['load_start']:.1f} at start (the machine may be shared: "
        "CPU per request is the robust figure)."
    )
    ref_note = (
        "Reference per core: the reference's requests/s on AWS c5a instances of 4, 8, 16 and "
        "32 vCPUs divided by the vCPUs; 'best' is the highest of the four (most favourable to "
        "the reference), '4-core' the c5a.xlarge figure / 4. /process: the '≥ BVH' desktop row "
        "(process-passive is compared with the same row). /verifyWithPictureId has no "
        "published figure. Ratios use the best figure."
    )
    md = [
        "# faceproof load benchmark",
        "",
        head,
        "",
        "Command: `" + meta["command"] + "`",
        "",
        "## Requests per second per core at the concurrency of best throughput",
        "",
        markdown_table(PER_CORE_HEADERS, per_core_rows(best, cores)),
        "",
        ref_note,
        "",
        "## Every step",
        "",
        markdown_table(STEP_HEADERS, [step_row(s) for s in steps]),
        "",
    ]
    text = "\n".join(
        [
            "",
            head,
            "",
            "Every step:",
            text_table(STEP_HEADERS, [step_row(s) for s in steps]),
            "",
            "Requests/s per core at the concurrency of best throughput:",
            text_table(PER_CORE_HEADERS, per_core_rows(best, cores)),
            "",
            ref_note,
        ]
    )
    return text, "\n".join(md)


def parse_list(text: str, choices: Sequence[str] | None = None) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if choices is not None:
        bad = [x for x in items if x not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(choices)}")
    return items


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--endpoints",
        type=lambda t: parse_list(t, ENDPOINT_NAMES),
        default=list(DEFAULT_ENDPOINTS),
        help=f"comma-separated, of: {', '.join(ENDPOINT_NAMES)} (default: all but process-passive)",
    )
    ap.add_argument(
        "--concurrency",
        type=lambda t: [int(x) for x in parse_list(t)],
        default=[1, 2, 4, 8],
        help="comma-separated client counts (default 1,2,4,8)",
    )
    ap.add_argument("--duration", type=float, default=20.0, help="measured seconds per step")
    ap.add_argument("--warmup", type=float, default=4.0, help="uncounted seconds per step")
    ap.add_argument(
        "--min-answers",
        type=int,
        default=40,
        help="extend a step's window (up to 4× --duration) until this many answers",
    )
    ap.add_argument("--workers", type=int, default=2, help="workers of the server started")
    ap.add_argument("--port", type=int, default=0, help="port of the server started (0: free)")
    ap.add_argument("--env", action="append", default=[], help="K=V for the server started")
    ap.add_argument("--server", help="bench this running server instead (needs --pid)")
    ap.add_argument("--pid", type=int, help="the running server's main pid (for its CPU)")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="where the JSON/Markdown go")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the server this bench started is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.server and not args.pid:
        raise SystemExit("--server needs --pid (the server's main process, for its CPU)")
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is not present")
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    meta: dict[str, Any] = {
        "started": started,
        "command": "python bench/load.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "cores": len(os.sched_getaffinity(0)),
        "load_start": os.getloadavg()[0],
        "endpoints": args.endpoints,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }
    if args.server:
        meta.update(server=args.server, workers=len(workers_of(args.pid)), pid=args.pid)
        results = asyncio.run(sweep(args, args.server.rstrip("/"), args.pid))
    else:
        env = {**BENCH_ENV, **dict(e.split("=", 1) for e in args.env)}
        with running_server(workers=args.workers, port=args.port, env_extra=env) as served:
            server = f"faceproof serve (this tree) env {env}"
            meta.update(server=server, workers=args.workers)
            print(f"server pid {served.proc.pid} at {served.url}", flush=True)
            results = asyncio.run(sweep(args, served.url, served.proc.pid))
    text, md = report(results, args, meta)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"load-{started.replace(':', '').replace('-', '')}Z"
    best = {n: asdict(best_step(s)) for n, s in results.items() if s}
    doc = {
        "meta": meta,
        "reference": {n: reference_per_core(n) for n in results},
        "best": best,
        "steps": {n: [asdict(s) for s in ss] for n, ss in results.items()},
    }
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str))
    stem.with_suffix(".md").write_text(md)
    print(f"\nwrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
