"""Options several commands share, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def models_option(param: str = "models") -> Callable[[F], F]:
    """``--models DIR``: the model store, default the configured one (see :func:`models_dir`)."""
    return click.option(
        "--models",
        param,
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Model store (default: the configured one).",
    )


def models_dir(path: Path | None) -> Path:
    """The ``--models`` value, or the configured store (FACEPROOF_MODEL_DIR / data dir)."""
    from faceproof.config import load_settings

    return path or load_settings().models_path
