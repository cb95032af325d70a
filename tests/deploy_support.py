"""Helpers for the packaging tests (tests/test_deploy_*.py): deploy/ paths, the settings the
server knows, and Compose-style ``${VAR}`` interpolation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from faceproof.config import Settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"

#: Environment a faceproof container may carry besides config.Settings: what the image pins
#: for every process (docs/deployment.md, "Memory") and plain process settings.
PROCESS_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "MALLOC_ARENA_MAX",
    }
)


def settings_names() -> frozenset[str]:
    """Every environment name config.Settings reads (reference names and FACEPROOF_*)."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif alias is not None:
            names.update(str(choice) for choice in alias.choices)
    return frozenset(names)


def settings_from(env: dict[str, str]) -> Settings:
    """Settings exactly as a container with ``env`` would load them (no ``.env`` file)."""
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


# ${NAME}, or ${NAME<op>ARG} where ARG may hold one level of nested ${...}.
_VAR = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^{}]*(?:\$\{[^{}]*\}[^{}]*)*))?\}"
)


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` (or ``${VAR?message}``) whose variable is unset or empty."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?err}``, ``${VAR?err}`` (defaults may nest) and ``$$``, applied to every string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg") or ""
        present = name in env
        empty = not env.get(name)
        if op in (":-", "-"):
            use_default = empty if op == ":-" else not present
            return interpolate(arg, env) if use_default else env[name]
        if op in (":?", "?"):
            if empty if op == ":?" else not present:
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        return env.get(name, "")

    return _VAR.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a Compose ``.env`` file (comments and blank lines skipped)."""
    env: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, val = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        env[key.strip()] = val.strip()
    return env
