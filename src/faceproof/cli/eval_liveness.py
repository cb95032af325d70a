"""``faceproof eval liveness``: PAD error rates (ISO/IEC 30107-3) on labelled image folders.

Without ``--by-source`` the packaged fusion and calibration are evaluated as shipped (on
the dev data this is in-sample and says so). With ``--by-source`` each source is held out
in turn: every score compared (the shipped fusion's features, the MiniFASNet pair alone and
each of its networks, today's-before-the-pair 7-cue fusion, each single cue, and the pair
fused with each candidate) is refitted and its levels recalibrated on the other sources
only, then the held-out source is scored — the honest estimate of how each transfers. Both
write a JSON report and a DET plot. Levels are calibrated on the worst attack type; a level
that an attack type has too few samples to support (fewer than 3/target) is flagged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np

from faceproof.cli.extras import require_eval_extra
from faceproof.cli.options import models_dir, models_option
from faceproof.error_rates import det_curve
from faceproof.liveness import train as tr
from faceproof.liveness.fusion import extract, load_fusion
from faceproof.liveness.levels import DEFAULT_LEVEL, LEVELS, TARGET_APCER, load_liveness_calibration
from faceproof.liveness.minifasnet import MIN_CONTEXT
from faceproof.liveness.train import DEFAULT_CACHE
from faceproof.pipeline.engine import FaceEngine
from faceproof.private_cache import PrivateCacheError


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
        f"BPCER@APCER=5%: {_fmt(s['bpcer_at_apcer_5pct'])} %   (worst attack type)"
    )
    click.echo(
        "AUC per attack type: "
        + ", ".join(f"{k} {v:.4f}" for k, v in s.get("auc_by_type", {}).items())
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
    # lazy: matplotlib and scipy.stats (~2-3 s) only when a DET plot is drawn
    import matplotlib

    matplotlib.use("Agg")
    # lazy: matplotlib and scipy.stats (~2-3 s) only when a DET plot is drawn
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


def _supported_note(calib: Any) -> None:
    """Which levels the calibration data cannot support (rule of three, per attack type)."""
    for name in LEVELS:
        short = calib.unsupported(name)
        if short:
            need = int(np.ceil(3 / TARGET_APCER[name]))
            click.echo(
                f"  {name:<20} UNSUPPORTED by "
                + ", ".join(f"{k} ({n} attacks < {need})" for k, n in short.items())
            )


def _scorers(shipped: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Every score compared leave-one-source-out (name → features)."""
    out: dict[str, tuple[str, ...]] = {"fused (shipped)": shipped}
    out["MiniFASNet pair"] = tr.PAIR_FEATURES
    out["old fusion (7 cues)"] = tr.OLD_FEATURES
    for name in ("mfn_v2", "mfn_v1se", *tr.OLD_FEATURES):
        out[name] = (name,)
    for name in tr.OLD_FEATURES:
        out[f"pair + {name}"] = ("mfn", name)
    out["pair + hf64 + noise64"] = tr.CANDIDATE_FEATURES
    out["pair + noise64 + block"] = ("mfn", "noise64", "block")
    out["pair + old 7 cues"] = ("mfn", *tr.OLD_FEATURES)
    return out


def _row(name: str, s: dict[str, Any]) -> str:
    out = f"{name:<24}{s['auc']:>8.4f}{_fmt(s['bpcer_at_apcer_1pct']):>9} %"
    out += f"{_fmt(s['bpcer_at_apcer_5pct']):>9} %"
    for level in ("LOW", DEFAULT_LEVEL):
        lv = s.get("levels", {}).get(level, {})
        out += f"{_fmt(lv.get('apcer_max', float('nan'))):>9} %"
        out += f"{_fmt(lv.get('bpcer', float('nan'))):>9} %"
    return out


def _by_source(
    table: Any, matched: Any, shipped: tuple[str, ...], report: dict[str, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    scorers = _scorers(shipped)
    results = {
        name: tr.leave_one_source_out(
            table,
            feats,
            tr.DEFAULT_L2,
            resolution_matched=matched if name == "fused (shipped)" else None,
        )
        for name, feats in scorers.items()
    }
    report["leave_one_source_out"] = results
    fused = results["fused (shipped)"]
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    verdicts: dict[str, Any] = {}
    for held, fold in fused["folds"].items():
        _print_summary(
            f"held out: {held} — fused {list(shipped)} (fit + calibrated on "
            f"{', '.join(fold['trained_on'])})",
            fold["test"],
        )
        rm = fold.get("test_resolution_matched")
        if rm:
            click.echo(
                f"resolution-matched: AUC {rm['auc']:.4f}  "
                f"BPCER@APCER=1%: {_fmt(rm['bpcer_at_apcer_1pct'])} %"
            )
        click.echo(
            f"\n{'score (held out: ' + held + ')':<24}{'AUC':>8}{'BPCER@1%':>11}{'BPCER@5%':>11}"
            f"{'APCER@LOW':>11}{'BPCER@LOW':>11}{'APCER@def':>11}{'BPCER@def':>11}"
            f"   (def = {DEFAULT_LEVEL}; APCER of the worst attack type)"
        )
        for name, res in results.items():
            if held in res["folds"]:
                click.echo(_row(name, res["folds"][held]["test"]))
        # The rule: the fusion may not be worse than its best single component here.
        singles = [n for n in shipped if n in results or (n,) in scorers.values()]
        single_auc = {
            n: results[key]["folds"][held]["test"]["auc"]
            for n in singles
            for key, feats in scorers.items()
            if feats == (n,) or (n == "mfn" and key == "MiniFASNet pair")
        }
        fused_auc = fold["test"]["auc"]
        best = max(single_auc.values()) if single_auc else float("nan")
        verdicts[held] = {"fused_auc": fused_auc, "best_component_auc": best}
        click.echo(
            f"fused AUC {fused_auc:.4f} vs best single component {best:.4f}: "
            + ("OK" if not fused_auc < best else "WORSE than a component")
        )
    report["fusion_vs_best_component"] = verdicts
    _print_summary("pooled out-of-source scores (fused; different fold models)", fused["pooled"])
    src = np.array([s.source for s in table.samples])
    for name in ("fused (shipped)", "MiniFASNet pair", "old fusion (7 cues)"):
        feats = scorers[name]
        for held in results[name]["folds"]:
            model = tr.fit_model(table, src != held, feats, tr.DEFAULT_L2)
            x = table.x[:, [table.names.index(n) for n in feats]]
            scores = tr.scores_of(model, x)[src == held]
            y = table.y[src == held]
            if y.sum() >= 10:
                curves[f"{name}, held out {held}"] = det_curve(scores[~y], scores[y])
    return curves


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
    "--video-live",
    "video_live",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a bona fide video: every 10th frame is scored as a whole frame (repeatable)",
)
@click.option(
    "--video-spoof",
    "video_spoof",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="an attack video, scored the same way (repeatable)",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_CACHE,
    show_default=True,
    help="cue cache folder (numbers only, no images; private to this user, 0700/0600)",
)
def liveness(
    live_dir: Path,
    spoof_dir: Path,
    by_source: bool,
    models_path: Path | None,
    out_dir: Path,
    video_live: tuple[Path, ...],
    video_spoof: tuple[Path, ...],
    cache_dir: Path,
) -> None:
    """APCER per attack type, BPCER, BPCER@APCER 1 %/5 %, the level table, a DET curve."""
    require_eval_extra("eval liveness", "scipy", "matplotlib")  # fusion fits, the DET plot
    models_path = models_dir(models_path)
    fusion = load_fusion()
    samples = tr.load_samples(live_dir, spoof_dir)
    names = set(fusion.features)
    if by_source:
        names |= {n for feats in _scorers(fusion.features).values() for n in feats}
    if video_live or video_spoof:
        names |= set(tr.CANDIDATE_FEATURES)
    names.add("mfn_ctx")
    try:
        cache = tr.CueCache(cache_dir)
    except PrivateCacheError as exc:
        raise click.ClickException(str(exc)) from None
    extractor = tr.CueExtractor(models_path, cache, sorted(names))
    table = tr.build_table(samples, extractor)
    report: dict[str, Any] = {
        "data_sha256": tr.samples_digest(samples),
        "n_without_face": len(table.missing),
        "size_only_auc": tr.size_only_auc(table),
    }
    click.echo(f"{len(table.samples)} images with a face, {len(table.missing)} without")
    click.echo(f"face width alone (size-only AUC): {report['size_only_auc']:.4f}")
    ctx = table.column("mfn_ctx")

    report["too_little_context"] = int((ctx < MIN_CONTEXT).sum())
    click.echo(
        f"images the API would not judge (too little context around the face, "
        f"< {MIN_CONTEXT}): {report['too_little_context']} of {len(ctx)}; scored here anyway"
    )
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if by_source:
        widths = tr.resolution_matched_widths(table)
        matched = tr.build_table(samples, extractor, live_face_width=widths)
        report["size_only_auc_resolution_matched"] = tr.size_only_auc(matched)
        click.echo(
            "bona fide faces shrunk to each source's median attack face width: "
            f"size-only AUC {report['size_only_auc_resolution_matched']:.4f}"
        )
        curves = _by_source(table, matched, fusion.features, report)
    else:
        calib = load_liveness_calibration()
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
        click.echo("levels the calibration data cannot support (rule of three, per attack type):")
        _supported_note(calib)
        floor = calib.sdk_passive_floor
        click.echo(
            f"sdk_passive_floor {floor:.4f} (challenge captures): "
            + _floor_line(table, scores, floor)
        )
        y = table.y
        curves["packaged"] = det_curve(scores[~y], scores[y])
    if video_live or video_spoof:
        report["video_frames"] = _videos(
            models_path, table, fusion, video_live, video_spoof, extractor.names
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    _det_plot(curves, out_dir / "det.png")
    click.echo(f"\nreport: {out_dir / 'report.json'}   DET: {out_dir / 'det.png'}")


def _floor_line(table: Any, scores: np.ndarray, floor: float) -> str:
    y = table.y
    by_type: dict[str, list[float]] = {}
    for s, v in zip(table.samples, scores, strict=True):
        if s.label == "spoof":
            by_type.setdefault(s.attack, []).append(float(v))
    parts = [f"BPCER {_fmt(float(np.mean(scores[~y] < floor)))} %"]
    parts += [
        f"APCER {k} {_fmt(float(np.mean(np.array(v) >= floor)))} %" for k, v in by_type.items()
    ]
    return ", ".join(parts)


def _videos(
    models_path: Path,
    table: Any,
    fusion: Any,
    live: tuple[Path, ...],
    spoof: tuple[Path, ...],
    names: list[str],
) -> dict[str, Any]:
    """Whole frames (every 10th) of videos, the kind of image the API judges: the shipped
    model with the shipped levels, and the alternatives fitted and calibrated on all the
    image data, side by side (min / median / max score, share passing LOW and the default
    level; frames with too little context are counted apart)."""
    engine = FaceEngine(models_path)
    models = tr.PassiveModels(models_path, ["mfn"])
    cue_names = sorted({"mfn_ctx", *names} - {"human", "expo"})
    rows: dict[str, list[dict[str, float]]] = {"live": [], "spoof": []}
    for label, paths in (("live", live), ("spoof", spoof)):
        for path in paths:
            cap = cv2.VideoCapture(str(path))
            i = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                if i % 10 == 0:
                    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
                    det = engine.find_faces(rgb, "document").main
                    if det is not None:
                        rows[label].append(extract(rgb, det, cue_names, models))
                i += 1
            cap.release()
    everything = np.ones(len(table.samples), dtype=bool)
    variants: dict[str, tuple[Any, Any]] = {"shipped": (fusion, load_liveness_calibration())}
    for name, feats in (
        ("MiniFASNet pair", tr.PAIR_FEATURES),
        ("pair + hf64 + noise64", tr.CANDIDATE_FEATURES),
    ):
        if tuple(fusion.features) != feats:
            variants[name] = tr.fit_and_calibrate(table, everything, feats, tr.DEFAULT_L2)
    out: dict[str, Any] = {}
    click.echo(
        f"\nwhole video frames (every 10th): {len(rows['live'])} bona fide, "
        f"{len(rows['spoof'])} attack; not fitted on; levels as calibrated on the image data"
    )
    for name, (model, calib) in variants.items():
        res: dict[str, Any] = {}
        for label, rs in rows.items():
            judged = [r for r in rs if r["mfn_ctx"] >= MIN_CONTEXT]
            if not judged:
                continue
            x = np.array([[r[f] for f in model.features] for r in judged])
            sc = tr.scores_of(model, x)
            res[label] = {
                "n": len(judged),
                "too_little_context": len(rs) - len(judged),
                "min": float(sc.min()),
                "median": float(np.median(sc)),
                "max": float(sc.max()),
                "pass_LOW": float(np.mean(sc >= calib.thresholds["LOW"])),
                "pass_default": float(np.mean(sc >= calib.thresholds[DEFAULT_LEVEL])),
                "pass_floor": float(np.mean(sc >= calib.sdk_passive_floor)),
            }
            r = res[label]
            click.echo(
                f"  {name:<22} {label:<6} n={r['n']:3d} score min {r['min']:.3f} "
                f"median {r['median']:.3f} max {r['max']:.3f}  passing LOW "
                f"{_fmt(r['pass_LOW'])} %, {DEFAULT_LEVEL} {_fmt(r['pass_default'])} %, "
                f"floor {_fmt(r['pass_floor'])} %"
            )
        out[name] = res
    return out
