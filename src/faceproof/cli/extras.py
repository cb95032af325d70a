"""The ``eval`` extra: SciPy and Matplotlib serve only calibration, training and evaluation.

The server's install (``pip install faceproof``, ``scripts/install.sh``) goes without them;
a command that needs them says what to install instead of failing on an import.
"""

from __future__ import annotations

import importlib

import click

INSTALL_HINT = (
    "pip install 'faceproof[eval]' (in a checkout: .venv/bin/pip install -c constraints.txt "
    "-e '.[eval]', or scripts/install.sh --dev)"
)


def require_eval_extra(command: str, *modules: str) -> None:
    """Imports ``modules`` (SciPy, Matplotlib); a ClickException naming the missing ones and
    how to install them when this install lacks the extra."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise click.ClickException(
            f"`faceproof {command}` needs {' and '.join(missing)} from the eval extra, "
            f"which this install lacks: {INSTALL_HINT}"
        )
