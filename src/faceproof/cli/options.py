"""Options several commands share, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from faceproof.config import ConfigError, load_settings
from faceproof.models.mobilefacenet import (
    DEFAULT_EMBEDDING,
    EMBEDDING_METHODS,
    embedding_method,
)
from faceproof.models.store import require_models
from faceproof.pipeline.engine import REQUIRED_MODELS, FaceEngine
from faceproof.private_cache import PrivateCacheError, resolve_cache_path

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
    return path or load_settings().models_path


def build_engine(models: Path | None) -> tuple[FaceEngine, Path]:
    """The server's face engine on the given (or configured) model store."""
    path = models_dir(models)
    try:
        require_models(path, REQUIRED_MODELS)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return FaceEngine(path), path


def embedding_option() -> Callable[[F], F]:
    """``--embedding plain|flip``: how faces are embedded, default the server's own."""
    return click.option(
        "--embedding",
        type=click.Choice(EMBEDDING_METHODS),
        default=DEFAULT_EMBEDDING,
        show_default=True,
        help="plain: the aligned crop's embedding; flip: the crop's and its mirror's, "
        "averaged. Compare the two on the same data; ship what the server uses.",
    )


def build_embedding_engine(models: Path | None, embedding: str) -> tuple[FaceEngine, Path]:
    """:func:`build_engine` embedding faces by ``embedding`` (one of EMBEDDING_METHODS)."""
    try:
        method = embedding_method(embedding)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    engine, path = build_engine(models)
    engine.embedding_method = method
    return engine, path


def cache_option() -> Callable[[F], F]:
    """``--cache NAME|PATH``: the private embedding cache of calibrate / eval verify."""
    return click.option(
        "--cache",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Embedding cache (.npz; face data). A bare name is kept in "
        "~/.cache/faceproof (0700; $XDG_CACHE_HOME honoured); a path must be in a directory "
        "only you can write (not /tmp). Files are written 0600.",
    )


def cache_path(value: Path | None) -> Path | None:
    """The ``--cache`` value resolved to a private location, or a ClickException."""
    if value is None:
        return None
    try:
        return resolve_cache_path(value.with_suffix(".npz"))
    except PrivateCacheError as exc:
        raise click.ClickException(str(exc)) from None
