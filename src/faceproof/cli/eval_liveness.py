"""``faceproof eval liveness``: PAD error rates (ISO/IEC 30107-3) on labelled image folders.

Without ``--by-source`` the packaged fusion and calibration are evaluated as shipped (on
the dev data this is in-sample and says so). With ``--by-source`` each source is held out
in turn: the fusion is refitted and the levels recalibrated on the other sources only, and
the held-out source is scored — the honest estimate of how the method transfers. Both
write a JSON report and a DET plot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from faceproof.cli.options import models_dir, models_option
from faceproof.liveness.levels import LEVELS

_DEFAULT_CACHE = Path("/tmp/faceproof-liveness-cache")


def _fmt(v: float) -> str:
    return "  n/a " if v != v else f"{100 * v:6.2f}"


def _print_summary(title: str, s: dict[str, Any]) -> None:
    click.echo(f"\n== {title}")
    n_att = s["n_attack"]
    click.echo(
        f"bona fide: {s['n_bona_fide']}   attacks: "
        + ", ".join(f"{k} {v}" for k, v in n_att.items())
    )
    click.echo(
        f"AUC {s['auc']:.4f}   BPCER@APCER=1%: {_fmt(s['bpcer_at_apcer_1pct'])} %   "
        f"BPCER@APCER=5%: {_fmt(s['bpcer_at_apcer_5pct'])} %"
    )
    levels = s.get("levels")
    if not levels:
        return
    types = list(n_att)
    head = f"{'level':<20}{'threshold':>10}" + "".join(f"{'APCER ' + t:>26}" for t in types)
    click.echo(head + f"{'BPCER':>9}")
    for name in LEVELS:
        row = levels[name]
        line = f"{name:<20}{row['threshold']:>10.4f}"
        line += "".join(f"{_fmt(row['apcer'][t]) + ' %':>26}" for t in types)
        click.echo(line + f"{_fmt(row['bpcer']) + ' %':>9}")


def _det_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8])
    lo, hi = norm.ppf(0.0005), norm.ppf(0.9)
    for label, (ap, bp) in curves.items():
        x = norm.ppf(np.clip(ap, 0.0005, 0.9995))
        y = norm.ppf(np.clip(bp, 0.0005, 0.9995))
        ax.plot(x, y, label=label)
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("APCER (%)")
    ax.set_ylabel("BPCER (%)")
    ax.set_title("Liveness DET (normal deviate scale)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _single_cues(table: Any, names: Any) -> dict[str, dict[str, float]]:
    """Each cue alone (its physical sign, nothing fitted), AUC per source: the baselines."""
    from faceproof.liveness.fusion import SIGNS
    from faceproof.liveness.metrics import auc

    src = np.array([s.source for s in table.samples])
    out: dict[str, dict[str, float]] = {}
    sources = sorted(set(src.tolist()))
    click.echo("\nsingle cues, AUC per source (no fitting; sign = physical expectation):")
    click.echo(f"{'cue':<10}" + "".join(f"{s:>15}" for s in sources))
    for name in names:
        v = -SIGNS[name] * table.column(name)  # higher = more bona fide
        row = {s: auc(v[(src == s) & ~table.y], v[(src == s) & table.y]) for s in sources}
        out[name] = row
        click.echo(f"{name:<10}" + "".join(f"{row[s]:>15.3f}" for s in sources))
    return out


@click.command("liveness")
@click.option(
    "--live",
    "live_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="bona fide images",
)
@click.option(
    "--spoof",
    "spoof_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="attack images, one sub-folder per attack type",
)
@click.option("--by-source", is_flag=True, help="leave-one-source-out: refit per held-out source")
@models_option("models_path")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("liveness-eval"),
    show_default=True,
    help="where report.json and det.png go",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=_DEFAULT_CACHE,
    show_default=True,
    help="cue cache (numbers only, no images)",
)
def liveness(
    live_dir: Path,
    spoof_dir: Path,
    by_source: bool,
    models_path: Path | None,
    out_dir: Path,
    cache_dir: Path,
) -> None:
    """APCER per attack type, BPCER, BPCER@APCER 1 %/5 %, the level table, a DET curve."""
    from faceproof.liveness import train as tr
    from faceproof.liveness.fusion import load_fusion
    from faceproof.liveness.levels import load_calibration
    from faceproof.liveness.metrics import det_points

    models_path = models_dir(models_path)
    fusion = load_fusion()
    samples = tr.load_samples(live_dir, spoof_dir)
    extractor = tr.CueExtractor(models_path, tr.CueCache(cache_dir), sorted(fusion.features))
    table = tr.build_table(samples, extractor)
    report: dict[str, Any] = {
        "data_sha256": tr.data_digest(samples),
        "n_without_face": len(table.missing),
        "size_only_auc": tr.size_only_auc(table),
    }
    click.echo(f"{len(table.samples)} images with a face, {len(table.missing)} without")
    click.echo(f"face width alone (size-only AUC): {report['size_only_auc']:.4f}")
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if by_source:
        widths = tr.resolution_matched_widths(table)
        matched = tr.build_table(samples, extractor, live_face_width=widths)
        report["size_only_auc_resolution_matched"] = tr.size_only_auc(matched)
        click.echo(
            "bona fide faces shrunk to each source's median attack face width: "
            f"size-only AUC {report['size_only_auc_resolution_matched']:.4f}"
        )
        report["single_cue_auc_by_source"] = _single_cues(table, fusion.features)
        loso = tr.leave_one_source_out(
            table, fusion.features, tr.DEFAULT_L2, resolution_matched=matched
        )
        report["leave_one_source_out"] = loso
        for held, fold in loso["folds"].items():
            _print_summary(
                f"held out: {held} (fit + calibrated on {', '.join(fold['trained_on'])})",
                fold["test"],
            )
            rm = fold["test_resolution_matched"]
            click.echo(
                f"resolution-matched: AUC {rm['auc']:.4f}  "
                f"BPCER@APCER=1%: {_fmt(rm['bpcer_at_apcer_1pct'])} %"
            )
        _print_summary("pooled out-of-source scores (different fold models)", loso["pooled"])
        src = np.array([s.source for s in table.samples])
        for held in loso["folds"]:
            model, _ = tr.fit_and_calibrate(table, src != held, fusion.features, tr.DEFAULT_L2)
            x = table.x[:, [table.names.index(n) for n in fusion.features]]
            scores = tr.scores_of(model, x)[src == held]
            y = table.y[src == held]
            curves[f"held out: {held}"] = det_points(scores[~y], scores[y])
    else:
        calib = load_calibration()
        x = table.x[:, [table.names.index(n) for n in fusion.features]]
        scores = tr.scores_of(fusion, x)
        everything = np.ones(len(scores), dtype=bool)
        summary = tr.report(table, scores, everything, calib)
        report["packaged"] = summary
        report["fusion_sha256"] = fusion.digest
        report["calibration_sha256"] = calib.digest
        in_sample = calib.meta.get("data_sha256") == report["data_sha256"]
        report["in_sample"] = in_sample
        title = "packaged fusion + calibration"
        if in_sample:
            title += " (IN-SAMPLE: this is the data they were fitted on; use --by-source)"
        _print_summary(title, summary)
        y = table.y
        curves["packaged"] = det_points(scores[~y], scores[y])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    _det_plot(curves, out_dir / "det.png")
    click.echo(f"\nreport: {out_dir / 'report.json'}   DET: {out_dir / 'det.png'}")
