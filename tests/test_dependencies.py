"""The server's install stays lean, the eval extra is asked for by name, and the lock is whole.

* Starting the server (the ``faceproof`` command with every command group registered, the
  app built and started with every model) imports neither the eval extra (SciPy,
  Matplotlib) nor scikit-learn, which nothing uses.
* A command that needs the extra, run where it is missing, says what to install.
* constraints.txt (scripts/lock.sh) pins every dependency that pyproject.toml declares,
  inside its declared range.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import model_dir

ROOT = Path(__file__).resolve().parents[1]
EVAL_ONLY = ("scipy", "matplotlib", "sklearn")


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPROOF_")}
    env.update(
        {
            "FACEPROOF_DATA_DIR": str(tmp_path / "data"),
            "FACEPROOF_MODEL_DIR": str(model_dir()),
            "PYTHONPATH": str(ROOT / "tests"),
        }
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )


@pytest.mark.models
def test_starting_the_server_imports_no_eval_only_package(tmp_path: Path) -> None:
    proc = _run(
        """
        import json, sys
        from faceproof.cli import main  # every command group registered, as `faceproof` does
        from faceproof.cli import serve
        from faceproof.api.app import create_app
        from faceproof.config import load_settings
        from fastapi.testclient import TestClient

        app = create_app(load_settings(require_models=True))
        with TestClient(app) as client:  # start-up: every service and model loaded
            health = client.get("/api/v1/face_health").json()
        loaded = sorted({m.split(".")[0] for m in sys.modules})
        print(json.dumps({"health": health, "loaded": loaded}))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["health"].get("status") == "OK", out["health"]
    assert "onnxruntime" in out["loaded"] and "faceproof" in out["loaded"]  # it did load
    assert not set(EVAL_ONLY) & set(out["loaded"])


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (["eval", "verify", "--pairs", "{tmp}/pairs.txt", "--root", "{tmp}"], "matplotlib"),
        (["eval", "liveness", "--live", "{tmp}", "--spoof", "{tmp}"], "scipy and matplotlib"),
        (["calibrate", "--root", "{tmp}"], "scipy"),
        (
            ["liveness", "train", "--live", "{tmp}", "--spoof", "{tmp}", "--out", "{tmp}/o"],
            "scipy",
        ),
    ],
)
def test_eval_commands_without_the_extra_say_what_to_install(
    tmp_path: Path, args: list[str], missing: str
) -> None:
    (tmp_path / "pairs.txt").write_text("1\t1\n")
    argv = [a.format(tmp=tmp_path) for a in args]
    proc = _run(
        f"""
        import importlib.abc, sys

        class NoEvalExtra(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("scipy", "matplotlib"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, NoEvalExtra())
        from faceproof.cli import main
        main({argv!r}, prog_name="faceproof")
        """,
        tmp_path,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr[-2000:])
    assert f"needs {missing} from the eval extra" in proc.stderr
    assert "pip install 'faceproof[eval]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"constraints.txt: not an exact pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in pins, f"constraints.txt: {name} pinned twice"
        pins[key] = version
    return pins


def test_the_lock_pins_every_declared_dependency_inside_its_range() -> None:
    pins = _locked()
    problems = []
    for req in _declared():
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not in constraints.txt")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside pyproject's {req.specifier}")
    assert not problems, "run scripts/lock.sh: " + "; ".join(problems)
    assert "torch" in pins and pins["torch"].startswith("2.13.0")  # the CPU build on disk
    assert "scikit-learn" not in pins  # nothing uses it any more
