"""A newcomer's first commands work as the README writes them: `scripts/faceproof`, and every
`faceproof …` / `python bench/…` command of the README (run with `--help`), with the venv
activated as the README says, or through the wrapper and `.venv/bin/python` without it. And
the licence files are where a packager looks for them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

VENV_BIN = REPO / ".venv" / "bin"
pytestmark = pytest.mark.skipif(
    not (VENV_BIN / "faceproof").exists(), reason="no .venv here (scripts/install.sh)"
)


def _activated_env() -> dict[str, str]:
    """What `. .venv/bin/activate` does to the environment that matters here."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["VIRTUAL_ENV"] = str(REPO / ".venv")
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _bare_env() -> dict[str, str]:
    """No venv on PATH: what a new shell has before activation."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    parts = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in parts if Path(p).resolve() != VENV_BIN.resolve())
    return env


def _run(
    args: list[str], env: dict[str, str], cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def readme_commands() -> list[str]:
    """Every `faceproof …` and `python bench/…` line of the README's bash blocks."""
    text = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if re.match(r"^(python bench/|faceproof )", line):
                commands.append(line)
    return commands


def help_form(command: str) -> list[str]:
    """The command cut before its first option or file argument, plus `--help`."""
    words = command.split()
    keep = words[:2] if words[0] == "python" else words[:1]
    for word in words[len(keep) :]:
        if word.startswith("-") or "." in word or "/" in word:
            break
        keep.append(word)
    return [*keep, "--help"]


def test_readme_has_commands_to_check() -> None:
    commands = readme_commands()
    assert any(c.startswith("python bench/") for c in commands)
    assert any(c.startswith("faceproof call ") for c in commands)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_with_the_venv_activated(command: str) -> None:
    args = help_form(command)
    r = _run(args, _activated_env())
    assert r.returncode == 0, f"{' '.join(args)}: {r.stderr[-800:]}"
    assert "usage" in r.stdout.lower(), r.stdout[:400]


@pytest.mark.parametrize(
    "command", [c for c in readme_commands() if c.startswith("python bench/")][:2]
)
def test_bench_commands_run_with_venv_python_without_activation(command: str) -> None:
    args = help_form(command)
    r = _run([str(VENV_BIN / "python"), *args[1:]], _bare_env())
    assert r.returncode == 0, r.stderr[-800:]


def test_wrapper_runs_faceproof_from_anywhere(tmp_path: Path) -> None:
    r = _run([str(REPO / "scripts" / "faceproof"), "--help"], _bare_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for command in ("serve", "envelope", "models", "call"):
        assert command in r.stdout


def test_license_and_notice() -> None:
    license_text = (REPO / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert 'license = "Apache-2.0"' in (REPO / "pyproject.toml").read_text()
    notice = (REPO / "NOTICE").read_text()
    manifest = json.loads((REPO / "src/faceproof/models/manifest.json").read_text())
    missing = [m["name"] for m in manifest["models"] if m["name"] not in notice]
    assert not missing, f"NOTICE does not name {missing}"
    assert "src/faceproof/models/minifasnet/" in notice
    assert (REPO / "src/faceproof/models/minifasnet/NOTICE").is_file()
