"""``faceproof liveness train``: refit the fusion and recalibrate the levels on a data set."""

from __future__ import annotations

from pathlib import Path

import click

from faceproof.cli.extras import require_eval_extra
from faceproof.cli.options import models_dir, models_option
from faceproof.liveness import train as tr
from faceproof.liveness.train import DEFAULT_CACHE
from faceproof.private_cache import PrivateCacheError


@click.group("liveness")
def liveness_group() -> None:
    """Liveness (presentation-attack detection) maintenance."""


@liveness_group.command("train")
@click.option(
    "--live",
    "live_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--spoof",
    "spoof_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@models_option("models_path")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="folder for liveness_fusion.json / liveness_calibration.json (required: the packaged "
    "files are replaced only by copying them into src/faceproof/data/ on purpose)",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="cue cache folder (numbers only; private to this user, 0700/0600)",
)
@click.option("--l2", type=float, default=None, help="ridge strength (default: the module's)")
def train_cmd(
    live_dir: Path,
    spoof_dir: Path,
    models_path: Path | None,
    out_dir: Path,
    cache_dir: Path,
    l2: float | None,
) -> None:
    """Fit on all images of LIVE/SPOOF and write the two JSON files (versioned, digested)."""
    require_eval_extra("liveness train", "scipy")  # the fusion fit

    models_path = models_dir(models_path)
    try:
        result = tr.train(
            live_dir,
            spoof_dir,
            models_path,
            out_dir,
            cache_dir,
            l2=tr.DEFAULT_L2 if l2 is None else l2,
        )
    except PrivateCacheError as exc:
        raise click.ClickException(str(exc)) from None
    fusion = result["fusion"]
    click.echo(
        "weights (standardised cues): "
        + ", ".join(
            f"{n} {w:+.3f}" for n, w in zip(fusion["features"], fusion["weights"], strict=True)
        )
    )
    for level in result["calibration"]["levels"]:
        short = level.get("unsupported_by") or {}
        note = (
            "  UNSUPPORTED by " + ", ".join(f"{k} ({n})" for k, n in short.items()) if short else ""
        )
        click.echo(
            f"{level['name']:<20} target APCER {100 * level['target_apcer']:5.1f} %  "
            f"threshold {level['threshold']:.4f}  "
            f"BPCER {100 * level.get('bpcer', float('nan')):5.1f} %" + note
        )
    floor = result["calibration"]["meta"]["sdk_passive_floor"]
    click.echo(
        f"sdk_passive_floor {floor['threshold']:.4f}: BPCER {100 * floor['bpcer']:.1f} %, APCER "
        + ", ".join(f"{k} {100 * v:.1f} %" for k, v in floor["apcer"].items())
    )
    click.echo(f"written to {out_dir}")
