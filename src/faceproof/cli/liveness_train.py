"""``faceproof liveness train``: refit the fusion and recalibrate the levels on a data set."""

from __future__ import annotations

from pathlib import Path

import click

from faceproof.cli.options import models_dir, models_option

_DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data"


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
    type=click.Path(path_type=Path),
    default=_DEFAULT_OUT,
    show_default=True,
    help="where liveness_fusion.json / _calibration.json go",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=Path("/tmp/faceproof-liveness-cache"),
    show_default=True,
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
    from faceproof.liveness import train as tr

    models_path = models_dir(models_path)
    result = tr.train(
        live_dir, spoof_dir, models_path, out_dir, cache_dir, l2=tr.DEFAULT_L2 if l2 is None else l2
    )
    fusion = result["fusion"]
    click.echo(
        "weights (standardised cues): "
        + ", ".join(
            f"{n} {w:+.3f}" for n, w in zip(fusion["features"], fusion["weights"], strict=True)
        )
    )
    for level in result["calibration"]["levels"]:
        click.echo(
            f"{level['name']:<20} target APCER {100 * level['target_apcer']:5.1f} %  "
            f"threshold {level['threshold']:.4f}"
        )
    click.echo(f"written to {out_dir}")
