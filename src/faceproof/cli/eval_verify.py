"""``faceproof eval verify``: LFW-format pairs → accuracy, TAR@FAR, level confusion, DET plot."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from faceproof.cli.extras import require_eval_extra
from faceproof.cli.options import (
    build_embedding_engine,
    cache_option,
    cache_path,
    embedding_option,
    models_option,
)
from faceproof.config import ConfigError
from faceproof.datasets import folder_digest
from faceproof.error_rates import accept_rate, auc, det_curve, reject_rate
from faceproof.matching import calibration as mc
from faceproof.matching import evaluation as ev
from faceproof.matching.calibration import load_match_calibration
from faceproof.matching.dataset import (
    EmbeddedSet,
    cache_key,
    embed_folder,
    load_cached,
    save_cached,
)
from faceproof.matching.levels import LEVELS, far_label
from faceproof.matching.pairs import read_pairs, stratified_folds
from faceproof.models.mobilefacenet import EMBEDDING_METHODS, embedding_method
from faceproof.models.store import sha256_file

FARS = (1e-2, 1e-3, 1e-4)


@click.command("verify")
@click.option(
    "--pairs",
    "pairs_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="LFW-format pairs file (e.g. ../shared/data/verify/pairs-dev.txt).",
)
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Image root: <root>/<Name>/<Name>_NNNN.jpg.",
)
@click.option(
    "--kind",
    type=click.Choice(["selfie", "id"]),
    default="selfie",
    show_default=True,
    help="id: the second image of each pair is degraded by the ID proxy.",
)
@click.option("--folds", type=int, default=10, show_default=True)
@click.option(
    "--calibration",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Calibration file (default: the shipped one).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("verify-report.json"),
    show_default=True,
)
@click.option(
    "--det",
    "det_png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("verify-det.png"),
    show_default=True,
)
@models_option()
@cache_option()
@embedding_option()
@click.option(
    "--reference-embedding",
    type=click.Choice(EMBEDDING_METHODS),
    default=None,
    help="Embed each pair's second image this way instead (default: --embedding): "
    "measures templates made by one method against probes made by the other.",
)
@click.option(
    "--reference-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Embedding cache for --reference-embedding (default: --cache).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="ID-proxy seed.")
def verify(
    pairs_file: Path,
    root: Path,
    kind: str,
    folds: int,
    calibration: Path | None,
    report: Path,
    det_png: Path,
    models: Path | None,
    cache: Path | None,
    embedding: str,
    reference_embedding: str | None,
    reference_cache: Path | None,
    seed: int,
) -> None:
    """Evaluate 1:1 verification on a pairs file with the server's pipeline and calibration.

    The level confusions depend on the calibration, so each pair is classed as in sample
    (one of its identities was in the calibration data) or disjoint, when that can be
    verified: the calibration's data digest is recomputed from --root minus the folds it
    held out. Both are reported; only the disjoint figures estimate the deployed error rates.
    """
    require_eval_extra("eval verify", "matplotlib")  # the DET plot
    try:
        pairs = read_pairs(pairs_file)
        cal = load_match_calibration(calibration)
    except (ValueError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    engine, models_path = build_embedding_engine(models, embedding)
    relpaths = sorted({p.a for p in pairs} | {p.b for p in pairs})
    missing = [p for p in relpaths if not (root / p).is_file()]
    if missing:
        raise click.ClickException(
            f"{len(missing)} images of the pairs file are missing, e.g. {missing[0]}"
        )
    model_sha = sha256_file(models_path / "MobileFaceNet.tflite")
    proxy_seed = seed if kind == "id" else None

    def embedded(method: str, cache: Path | None) -> EmbeddedSet:
        """The pairs' images embedded by ``method`` (from the cache when it has them)."""
        cache_file = cache_path(cache)
        # A calibrate cache carries both embeddings; accept it for either kind.
        data = (
            load_cached(cache_file, cache_key(model_sha, seed, method), root, relpaths)
            if cache_file
            else None
        )
        if data is None and cache_file and proxy_seed is None:
            data = load_cached(cache_file, cache_key(model_sha, None, method), root, relpaths)
        if data is None:
            engine.embedding_method = embedding_method(method)  # new records only
            data = embed_folder(engine, root, relpaths, id_proxy_seed=proxy_seed)
            if cache_file:
                save_cached(cache_file, cache_key(model_sha, proxy_seed, method), root, data)
        return data

    method = engine.embedding_method
    ref_method = reference_embedding or method
    data = embedded(method, cache)
    # Probes (first images) by --embedding; references by --reference-embedding.
    ref_data = data if ref_method == method else embedded(ref_method, reference_cache or cache)
    idx = data.index()
    a = np.array([idx[p.a] for p in pairs])
    b = np.array([idx[p.b] for p in pairs])
    same = np.array([p.same for p in pairs], dtype=bool)
    if kind == "id":
        if ref_data.id_ref is None or ref_data.id_ok is None:
            raise click.ClickException("cache has no ID-proxy embeddings; drop --cache")
        ref, ref_ok = ref_data.id_ref, ref_data.id_ok
    else:
        ref, ref_ok = ref_data.selfie, ref_data.selfie_ok
    usable = data.selfie_ok[a] & ref_ok[b]
    # A pair with no usable face is a rejection (what the API answers: no match is possible).
    sims = np.where(usable, np.einsum("ij,ij->i", data.selfie[a], ref[b]), -1.0).astype(np.float64)
    genuine, impostor = sims[same], sims[~same]

    fold_ids = stratified_folds(same, folds)
    kf = ev.kfold_accuracy(sims, same, fold_ids)
    eer_folds = ev.kfold_eer(sims, same, fold_ids)
    tars = [ev.tar_at_far(genuine, impostor, f) for f in FARS]
    kc = cal.kinds[kind]  # type: ignore[index]

    def level_table(mask: np.ndarray) -> dict[str, Any]:
        return {
            lv: {
                "far_target": kc.levels[lv].far_target,
                **ev.confusion(sims[mask], same[mask], kc.threshold(lv)),
            }
            for lv in LEVELS
        }

    split = calibration_split(cal, root, pairs)
    levels = level_table(np.ones(len(pairs), dtype=bool))
    by_split: dict[str, Any] = {}
    if split["in_sample"] is not None:
        in_sample = np.asarray(split.pop("in_sample"), dtype=bool)
        for name, mask in (("disjoint", ~in_sample), ("in_sample", in_sample)):
            if mask.any():
                by_split[name] = {
                    "pairs": int(mask.sum()),
                    "genuine_pairs": int((same & mask).sum()),
                    "impostor_pairs": int((~same & mask).sum()),
                    "levels": level_table(mask),
                }
    else:
        split.pop("in_sample")
    out: dict[str, Any] = {
        "pairs_file": pairs_file.name,
        "kind": kind,
        "pairs": len(pairs),
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int((~same).sum()),
        "pairs_without_face": int((~usable).sum()),
        "model": {
            "id": engine.embedder.model_id,
            "sha256": model_sha,
            "embedding": method,
            "reference_embedding": ref_method,
        },
        "calibration": {
            "data_digest": cal.data.get("digest"),
            "created": cal.created,
            "held_out": cal.data.get("held_out"),
        },
        "calibration_split": split,
        "accuracy": {
            "folds": folds,
            "mean": kf.mean,
            "std": kf.std,
            "per_fold": kf.per_fold,
            "thresholds": kf.thresholds,
            "protocol": "same and different pairs each cut into contiguous blocks in "
            "file order; threshold maximising accuracy on the other folds",
        },
        "roc_auc": auc(sims[same], sims[~same]),
        "eer": {
            "all_pairs": ev.equal_error_rate(genuine, impostor),
            "per_fold": eer_folds,
            "mean": float(np.mean(eer_folds)),
            "std": float(np.std(eer_folds)),
        },
        "tar_at_far": tars,
        "levels": levels,
        "levels_by_split": by_split,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    report.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    _plot_det(det_png, genuine, impostor, kc, kind)

    click.echo(
        f"{kind}, embedding {method}"
        + (f" vs references by {ref_method}" if ref_method != method else "")
        + f": {len(pairs)} pairs ({out['genuine_pairs']} same, "
        f"{out['impostor_pairs']} different), {out['pairs_without_face']} without a face"
    )
    click.echo(
        f"{folds}-fold accuracy {kf.mean * 100:.2f}% ± {kf.std * 100:.2f}   "
        f"ROC AUC {out['roc_auc']:.4f}   EER {out['eer']['all_pairs'] * 100:.2f}% "
        f"(per fold {out['eer']['mean'] * 100:.2f}% ± {out['eer']['std'] * 100:.2f})"
    )
    for t in tars:
        note = "" if t["supported"] else f"  (UNSUPPORTED: {t['impostor_pairs']} impostor pairs)"
        click.echo(
            f"TAR@FAR={t['far_target']:.0e}: {t['tar'] * 100:.2f}% "
            f"(threshold {t['threshold']:.4f}, {t['impostors_accepted']} impostors "
            f"accepted){note}"
        )
    click.echo(f"calibration vs these pairs: {split['summary']}")
    tables = [("all pairs", levels)]
    for name, label in (("disjoint", "DISJOINT from the calibration"), ("in_sample", "IN SAMPLE")):
        if name in by_split:
            b = by_split[name]
            tables.append((f"{label}: {b['pairs']} pairs", b["levels"]))
    for title, table in tables:
        click.echo(f"levels, {title}")
        click.echo(f"  {'level':<10}{'FAR':>8}{'TA':>6}{'FR':>6}{'FA':>6}{'TR':>6}{'TAR':>8}")
        for lv, c in table.items():
            click.echo(
                f"  {lv:<10}{far_label(c['far_target']):>8}{c['true_accept']:>6}"
                f"{c['false_reject']:>6}{c['false_accept']:>6}{c['true_reject']:>6}"
                f"{c['tar'] * 100:>7.2f}%"
            )
    click.echo(f"wrote {report} and {det_png}", err=True)


def calibration_split(cal: Any, root: Path, pairs: list[Any]) -> dict[str, Any]:
    """Which pairs share an identity with the calibration data, when that can be verified.

    The calibration records its data digest, its label fixes and the identities it held
    out; the identities it used are recomputed from ``root`` and trusted only if their
    digest is the recorded one. ``in_sample`` is a per-pair list, or None when the overlap
    cannot be established (a calibration made on other data).
    """
    held = cal.data.get("held_out")
    fixes = [(f["kind"], f["a"], f["b"], f["reason"]) for f in cal.data.get("label_fixes", [])]
    people = mc.identity_images(root)
    if held:
        people, _ = mc.without_identities(people, held.get("identity_names", []), fixes)
    used = [p for files in people.values() for p in files]
    if not used or folder_digest(root, used) != cal.data.get("digest"):
        return {
            "verified": False,
            "in_sample": None,
            "summary": "unknown (the calibration was not made on this root's identities)",
        }
    alias = {second: first for kind, first, second, _ in fixes if kind == "alias"}
    calibrated = {alias.get(name, name) for name in people}

    def known(rel: str) -> bool:
        name = rel.split("/", 1)[0]
        return alias.get(name, name) in calibrated

    in_sample = [known(p.a) or known(p.b) for p in pairs]
    n_in = sum(in_sample)
    what = (
        f"the identities of folds {held['folds']} of {held['pairs_file']} held out of the "
        "calibration"
        if held
        else "no identities held out of the calibration"
    )
    return {
        "verified": True,
        "in_sample": in_sample,
        "pairs_in_sample": n_in,
        "pairs_disjoint": len(pairs) - n_in,
        "summary": f"{what}: {len(pairs) - n_in} pairs disjoint, {n_in} in sample (verified "
        "by the calibration's data digest)",
    }


def _plot_det(path: Path, genuine: np.ndarray, impostor: np.ndarray, kc: Any, kind: str) -> None:
    # lazy: matplotlib (~1-2 s) only when a DET plot is drawn
    import matplotlib

    matplotlib.use("Agg")
    # lazy: matplotlib (~1-2 s) only when a DET plot is drawn
    import matplotlib.pyplot as plt

    far, frr = det_curve(genuine, impostor)
    floor = 0.5 / max(len(impostor), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.step(np.maximum(far, floor), np.maximum(frr, 0.5 / max(len(genuine), 1)), where="post")
    for lv in LEVELS:
        t = kc.threshold(lv)
        x = max(accept_rate(impostor, t), floor)
        y = max(reject_rate(genuine, t), 0.5 / max(len(genuine), 1))
        ax.plot([x], [y], "o")
        ax.annotate(lv, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"false accept rate (0 drawn at 1/(2·{len(impostor)}))")
    ax.set_ylabel("false reject rate")
    ax.set_title(f"DET ({kind}); dots: calibrated levels")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
