"""Real `faceproof serve` processes for the tests, started the one way the benches start them
(bench/serving.py: free port, private temporary data dir, the caller's deployment settings
removed, stdout/stderr to a file, ready on face_health).

``live_server()`` is one server per test run, shared by the tests that need a live server
(client, examples, logs): started on first use, stopped when the test process exits.
``running_server`` is bench/serving.py's context manager, for a test that needs its own
settings (the browser tests).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from conftest import model_dir

_BENCH_SERVING = Path(__file__).resolve().parents[1] / "bench" / "serving.py"


def _load_serving() -> Any:
    # bench/ is not a package: load its serving module by path, under a private name, so
    # bench's other modules stay off sys.path.
    spec = importlib.util.spec_from_file_location("faceproof_bench_serving", _BENCH_SERVING)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


_serving = _load_serving()
running_server = _serving.running_server
Served = _serving.Served

_stack = contextlib.ExitStack()
atexit.register(_stack.close)
_server: Any = None


def live_server() -> Any:
    """The shared server (a ``Served``: ``url``, ``data_dir``, ``log_lines()``), started on
    first use (about 20 s: the models load); its log is at INFO, so every access line is
    there."""
    global _server
    if _server is None:
        _server = _stack.enter_context(
            running_server(model_dir=model_dir(), env_extra={"LOG_LEVEL": "INFO"})
        )
    return _server
