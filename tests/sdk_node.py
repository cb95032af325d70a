"""Running the SDK's own modules under Node from the Python tests: a support script in
sdk/test/support reads one JSON document on stdin and answers on stdout, so a test can feed
it the server's measurements and compare."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SUPPORT = Path(__file__).resolve().parents[1] / "sdk" / "test" / "support"
NODE = shutil.which("node")

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_support(script: str, document: Any) -> str:
    """stdout of ``node sdk/test/support/<script>`` given ``document`` as JSON on stdin."""
    assert NODE is not None
    proc = subprocess.run(
        [NODE, str(SUPPORT / script)],
        input=json.dumps(document).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()
