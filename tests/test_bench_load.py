"""bench/load.py's helpers: CPU of a process tree from /proc, percentiles, the tables.

Nothing here times anything; the CPU check only asks that CPU a child spent in a thread
that has already ended is counted for that child and for its parent's tree.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import load

_BURNER = textwrap.dedent(
    """
    import sys, threading, time
    def burn():
        t0 = time.thread_time()
        while time.thread_time() - t0 < 0.3:
            pass
    t = threading.Thread(target=burn)
    t.start(); t.join()
    print("ready", flush=True)
    sys.stdin.read()
    """
)


@pytest.fixture
def burner():
    proc = subprocess.Popen(
        [sys.executable, "-c", _BURNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    yield proc
    proc.communicate(b"", timeout=30)


def test_cpu_of_an_ended_thread_counts_for_its_process_and_the_tree(burner) -> None:
    import os

    cpu = load.process_cpu_seconds(burner.pid)
    assert cpu is not None and cpu >= 0.25  # 0.3 s burnt, /proc counts in clock ticks
    tree = load.tree_cpu(os.getpid())
    assert burner.pid in tree and os.getpid() in tree
    assert load.process_tree(os.getpid())[0] == os.getpid()


def test_cpu_between_counts_new_processes_whole_and_names_the_gone() -> None:
    spent, gone = load.cpu_between({1: 2.0, 2: 1.0}, {1: 2.5, 3: 0.25})
    assert spent == pytest.approx(0.75)
    assert gone == [2]


def test_process_cpu_of_a_missing_process_is_none() -> None:
    assert load.process_cpu_seconds(2**22 + 12345) is None


@pytest.mark.parametrize("q", [0, 1, 50, 95, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = list(np.random.default_rng(3).exponential(100.0, size=37))
    assert load.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_edge_cases() -> None:
    assert np.isnan(load.percentile([], 50))
    assert load.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        load.percentile([1.0], 101)


def test_tables_render_every_cell() -> None:
    rows = [["a", 1, "—"], ["bb", 22.5, "x"]]
    md = load.markdown_table(["h1", "h2", "h3"], rows).splitlines()
    assert md[0] == "| h1 | h2 | h3 |" and md[1] == "|---|---|---|"
    assert md[3] == "| bb | 22.5 | x |"
    text = load.text_table(["h1", "h2", "h3"], rows).splitlines()
    assert len({len(line) for line in text}) == 1  # aligned columns


def _step(c: int, rps: float, cpu: float) -> load.StepResult:
    return load.StepResult(
        endpoint="generate",
        concurrency=c,
        duration_s=10,
        answers=int(rps * 10),
        rps=rps,
        p50_ms=1,
        p95_ms=2,
        p99_ms=3,
        by_code={"200": int(rps * 10)},
        errors=0,
        cpu_s=cpu * rps * 10,
        cpu_s_per_request=cpu,
        extra_cpu_s_per_request=0.0,
        generator_cpu_s=0.1,
        worker_rss_mb={"1": 200.0},
        worker_peak_mb={"1": 210.0},
        load_average=1.0,
    )


def test_best_step_is_the_lowest_concurrency_near_the_top_rate() -> None:
    steps = [_step(1, 10.0, 0.05), _step(2, 19.8, 0.05), _step(4, 20.0, 0.05)]
    assert load.best_step(steps).concurrency == 2


def test_per_core_row_uses_cpu_and_measured_rate_against_the_reference() -> None:
    row = load.per_core_rows({"generate": _step(2, 20.0, 0.05)}, cores=2)[0]
    headers = list(load.PER_CORE_HEADERS)
    cell = dict(zip(headers, row, strict=True))
    assert cell["req/s/core (1/CPU)"] == "20.00"  # 1 / 0.05 s
    assert cell["req/s/core (measured)"] == "10.00"  # 20 req/s on 2 cores
    best, four = load.reference_per_core("generate") or (0, 0)
    assert best == pytest.approx(max(4.04 / 4, 8.24 / 8, 16.25 / 16, 31.45 / 32))
    assert four == pytest.approx(4.04 / 4)
    assert cell["ratio (1/CPU)"] == f"{20 / best:.0f}×"
    assert load.reference_per_core("verify") is None
