"""``faceproof eval``: evaluation commands (numbers come from here, never from tests)."""

from __future__ import annotations

import importlib

import click


@click.group("eval")
def eval_group() -> None:
    """Measure accuracy on a labelled data set and write a JSON report and a DET plot."""


for _module, _attr in (
    ("faceproof.cli.eval_verify", "verify"),
    ("faceproof.cli.eval_liveness", "liveness"),
):
    try:
        eval_group.add_command(getattr(importlib.import_module(_module), _attr))
    except ModuleNotFoundError as exc:  # pragma: no cover - while a command is not built
        if not exc.name or not _module.startswith(exc.name):
            raise
