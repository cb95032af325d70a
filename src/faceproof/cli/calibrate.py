"""``faceproof calibrate``: fit the match thresholds of every level from identity folders."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from faceproof.cli.extras import require_eval_extra
from faceproof.cli.identification import DEFAULT_OUT, calibrate_identification
from faceproof.cli.options import (
    build_embedding_engine,
    cache_option,
    cache_path,
    embedding_option,
    models_option,
)
from faceproof.datasets import DIGEST_METHOD, folder_digest
from faceproof.error_rates import SUPPORT_FACTOR
from faceproof.matching import calibration as cal
from faceproof.matching.dataset import (
    EmbeddedSet,
    cache_key,
    embed_folder,
    load_cached,
    same_photograph_pairs,
    save_cached,
)
from faceproof.matching.id_proxy import describe
from faceproof.matching.levels import KINDS, LEVELS, Kind, far_label
from faceproof.matching.pairs import read_pairs
from faceproof.models.mobilefacenet import EMBEDDING_METHODS, embedding_method
from faceproof.models.store import sha256_file

AUDIT_PAIRS = 1000  # most similar impostor pairs checked for being the same photograph


def _subset_pairs(pairs: set[tuple[int, int]], mask: np.ndarray) -> frozenset[tuple[int, int]]:
    """Global image-index pairs → indices within ``mask``'s selected rows."""
    pos = np.cumsum(mask) - 1
    return frozenset((int(pos[i]), int(pos[j])) for i, j in pairs if mask[i] and mask[j])


@click.command()
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Identity folders: one sub-folder of images per person.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("match_calibration.json"),
    show_default=True,
    help="Calibration file to write.",
)
@click.option(
    "--label-fixes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Ground-truth corrections (aliases, mislabelled images), TSV; "
    "src/faceproof/matching/lfw_label_fixes.tsv for LFW.",
)
@models_option()
@cache_option()
@embedding_option()
@click.option(
    "--reference-embedding",
    type=click.Choice(EMBEDDING_METHODS),
    default=None,
    help="Embed the reference side of every pair this way (probes by --embedding): the "
    "thresholds that pairs of an old template and a new probe would need. A measurement, "
    "not a file to ship (the server refuses it).",
)
@click.option(
    "--reference-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Embedding cache for --reference-embedding (default: --cache).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="ID-proxy seed.")
@click.option(
    "--hold-out-pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="LFW-format pairs file whose --hold-out-folds identities are left out of the "
    "calibration, so that evaluating on those folds is out of sample.",
)
@click.option(
    "--identification",
    is_flag=True,
    help="Calibrate the 1:N identification levels (FPIR) instead, from identities disjoint "
    "from `faceproof eval identification`'s; writes identification_calibration.json unless "
    "--out says otherwise (docs/identification.md).",
)
@click.option(
    "--hold-out-folds",
    default="",
    help="Comma-separated fold indices (0-based) of --hold-out-pairs, e.g. 3,4.",
)
def calibrate(
    root: Path,
    out: Path,
    label_fixes: Path | None,
    models: Path | None,
    cache: Path | None,
    embedding: str,
    reference_embedding: str | None,
    reference_cache: Path | None,
    seed: int,
    hold_out_pairs: Path | None,
    hold_out_folds: str,
    identification: bool = False,
) -> None:
    """Fit selfie-vs-selfie and selfie-vs-ID thresholds from genuine/impostor pairs.

    Genuine pairs: every pair of images of one person. Impostor pairs: every pair across
    people, except pairs that are one photograph filed under two names. The selfie-vs-ID
    side degrades the reference image like an ID-card portrait (faceproof.matching.id_proxy).
    Each level states how many impostor pairs lie beyond its threshold and whether the data
    can support its FAR at all. With --hold-out-pairs/--hold-out-folds, every identity of
    those folds (aliases included) is left out, and the file records the split.
    """
    if identification:
        target = DEFAULT_OUT if out == Path("match_calibration.json") else out
        calibrate_identification(root, target, label_fixes, models, cache, embedding)
        return
    require_eval_extra("calibrate", "scipy")  # the FAR bounds (Clopper-Pearson)
    cache_file = cache_path(cache)
    folds = _parse_folds(hold_out_folds)
    if bool(folds) != (hold_out_pairs is not None):
        raise click.ClickException("--hold-out-pairs and --hold-out-folds go together")
    engine, models_path = build_embedding_engine(models, embedding)
    people = cal.identity_images(root)
    fixes = cal.read_label_fixes(label_fixes.read_text(encoding="utf-8")) if label_fixes else []
    held_out: dict[str, Any] | None = None
    if hold_out_pairs is not None:
        try:
            pairs = read_pairs(hold_out_pairs)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            held_names = cal.fold_identities(pairs, folds)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        kept, counts = cal.without_identities(people, held_names, fixes)
        held_out = {
            "pairs_file": hold_out_pairs.name,
            "pairs_sha256": sha256_file(hold_out_pairs),
            "folds": folds,
            **counts,
            "identity_names": sorted(held_names),
        }
        click.echo(
            f"held out: {held_out['identities']} identities ({held_out['images']} images) of "
            f"folds {folds} of {hold_out_pairs.name}",
            err=True,
        )
        people = kept
    if len(people) < 2:
        raise click.ClickException("need at least two identity folders")
    relpaths = [p for files in people.values() for p in files]
    folder = [p.split("/", 1)[0] for p in relpaths]
    names = cal.apply_label_fixes(relpaths, folder, fixes)
    click.echo(
        f"{len(people)} identities, {len(relpaths)} images under {root}; {len(fixes)} label fixes",
        err=True,
    )
    digest = folder_digest(root, relpaths)
    model_sha = sha256_file(models_path / "MobileFaceNet.tflite")

    def embedded(method: str, cache_file: Path | None) -> EmbeddedSet:
        key = cache_key(model_sha, seed, method)
        data = load_cached(cache_file, key, root, relpaths) if cache_file else None
        if data is None:
            engine.embedding_method = embedding_method(method)  # new records only
            started = time.perf_counter()
            data = embed_folder(engine, root, relpaths, id_proxy_seed=seed)
            click.echo(f"embedded in {time.perf_counter() - started:.0f} s", err=True)
            if cache_file:
                save_cached(cache_file, key, root, data)
        else:
            click.echo(f"{method} embeddings from cache {cache_file}", err=True)
        if data.id_ref is None or data.id_ok is None:
            raise click.ClickException("embedding cache has no ID-proxy vectors")
        return data

    data = embedded(embedding, cache_file)
    # The reference side of every pair (the same images), by --reference-embedding.
    ref = data
    if reference_embedding and reference_embedding != embedding:
        ref_cache = cache_path(reference_cache) if reference_cache else cache_file
        ref = embedded(reference_embedding, ref_cache)
        # Mixed pairs are ordered: probe i by one method, reference j by the other.
        data.selfie_ok &= ref.selfie_ok

    id_ref, id_ok = ref.id_ref, ref.id_ok
    assert id_ref is not None and id_ok is not None  # embedded() checked
    ids = {n: i for i, n in enumerate(dict.fromkeys(names))}
    labels = np.array([ids[n] for n in names], dtype=np.int64)
    raw_ids = {n: i for i, n in enumerate(dict.fromkeys(folder))}
    raw_labels = np.array([raw_ids[n] for n in folder], dtype=np.int64)
    ok = data.selfie_ok
    both = ok & id_ok
    glob = np.flatnonzero(ok)
    top = cal.top_impostor_pairs(data.selfie[ok], labels[ok], AUDIT_PAIRS)
    candidates = [(int(glob[i]), int(glob[j])) for _, i, j in top]
    duplicates = same_photograph_pairs(engine, root, relpaths, candidates)
    click.echo(
        f"{len(duplicates)} of the {len(top)} most similar impostor pairs are one "
        "photograph under two names: excluded",
        err=True,
    )

    def scores(kind: str, lab: np.ndarray, drop: set[tuple[int, int]]) -> tuple[Any, Any]:
        if kind == "selfie":
            return cal.pair_scores(
                data.selfie[ok],
                ref.selfie[ok],
                lab[ok],
                symmetric=ref is data,
                exclude=_subset_pairs(drop, ok),
            )
        return cal.pair_scores(
            data.selfie[both],
            id_ref[both],
            lab[both],
            symmetric=False,
            exclude=_subset_pairs(drop, both),
        )

    shared = (
        "pairs are not independent (each image takes part in thousands), so the "
        "effective sample is smaller than the pair count; TAR is measured on the "
        "calibration data itself (optimistic)"
    )
    described = {
        "selfie": [
            "genuine: every same-identity pair; impostor: every cross-identity pair "
            "(no subsampling)",
            shared,
        ],
        "id": [
            "probe: original image (selfie mode); reference: the same images degraded by "
            "the ID proxy (document mode); every ordered pair (i, j), i != j",
            shared,
        ],
    }
    extras: dict[str, dict[str, Any]] = {
        "selfie": {"images_used": int(ok.sum()), "images_without_face": int((~ok).sum())},
        "id": {
            "images_used": int(both.sum()),
            "reference_without_face": int((ok & ~id_ok).sum()),
            "reference_proxy": describe() | {"seed": seed},
        },
    }
    kinds: dict[Kind, cal.KindCalibration] = {}
    for kind in KINDS:
        raw = cal.fit_kind(kind, *scores(kind, raw_labels, set()))
        gen, imp = scores(kind, labels, duplicates)
        extras[kind] |= {
            "excluded_same_photograph_pairs": len(duplicates)
            * (1 if kind == "selfie" and ref is data else 2),  # ordered pairs: both orders
            "uncorrected_thresholds": {lv: p.similarity for lv, p in raw.levels.items()},
            "uncorrected_tar": {lv: p.tar for lv, p in raw.levels.items()},
        }
        kinds[kind] = cal.fit_kind(kind, gen, imp, described[kind], extras[kind])

    calibration = cal.MatchCalibration(
        kinds=kinds,
        model={
            "id": engine.embedder.model_id,
            "file": "MobileFaceNet.tflite",
            "sha256": model_sha,
            "dimension": int(engine.embedder.dimension),
            "embedding": embedding,
            **({"reference_embedding": reference_embedding} if ref is not data else {}),
        },
        data={
            "root": root.name,
            "digest": digest,
            "digest_method": DIGEST_METHOD,
            "identities": len(people),
            "images": len(relpaths),
            "label_fixes": [{"kind": k, "a": a, "b": b, "reason": r} for k, a, b, r in fixes],
            **({"held_out": held_out} if held_out else {}),
        },
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        pipeline=(
            "decode_image -> analyse (BlazeFace short range, full range fallback; "
            "document mode full range first) -> face mesh + iris five points -> "
            "similarity alignment to the ArcFace 112x112 template -> MobileFaceNet, "
            + ("flip-averaged, " if embedding == "flip" else "")
            + (f"reference side {reference_embedding}, " if ref is not data else "")
            + "L2-normalised -> cosine similarity"
        ),
        notes=(
            "accept iff cosine similarity >= the level's threshold",
            "empirical threshold: at most floor(FAR*N) impostor pairs at or above it; "
            "supported when N >= 3/FAR (rule of three), else extrapolated by an exponential "
            "tail fit and never below the highest impostor seen",
            "far_upper95: one-sided 95% Clopper-Pearson bound of the FAR at the threshold",
            f"label noise: {len(fixes)} ground-truth corrections applied and "
            f"{len(duplicates)} same-photograph pairs (aligned-crop NCC >= 0.9 among the "
            f"{AUDIT_PAIRS} most similar impostor pairs) excluded; the thresholds without "
            "them are kept as uncorrected_thresholds",
            "tar is measured on the calibration pairs themselves (in sample)"
            + (
                f"; the identities of folds {held_out['folds']} of {held_out['pairs_file']} "
                "are held out, so an evaluation on those folds is out of sample"
                if held_out
                else "; no identities are held out: any evaluation on these identities is in sample"
            ),
        ),
    )
    calibration.validate()
    out.write_text(json.dumps(calibration.to_json(), indent=2) + "\n", encoding="utf-8")
    _print_table(calibration)
    click.echo(f"\nwrote {out}", err=True)


def _parse_folds(text: str) -> list[int]:
    try:
        folds = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise click.ClickException("--hold-out-folds: comma-separated fold numbers") from None
    if any(f < 0 for f in folds):
        raise click.ClickException("--hold-out-folds: folds are numbered from 0")
    return folds


def _print_table(calibration: Any) -> None:
    for kind, c in calibration.kinds.items():
        click.echo(f"\n{kind}: {c.genuine_pairs} genuine, {c.impostor_pairs} impostor pairs")
        click.echo(
            f"  {'level':<10}{'FAR':>8}{'cosine':>10}{'beyond':>9}{'FAR<=95%':>11}"
            f"{'TAR':>8}{'uncorr.':>9}  confidence"
        )
        raw = c.extra.get("uncorrected_thresholds", {})
        for lv in LEVELS:
            p = c.levels[lv]
            conf = (
                "measured"
                if p.supported
                else f"EXTRAPOLATED: needs {int(SUPPORT_FACTOR / p.far_target)} pairs"
            )
            click.echo(
                f"  {lv:<10}{far_label(p.far_target):>8}{p.similarity:>10.4f}"
                f"{p.impostor_pairs_beyond:>9}{p.far_upper95:>11.2e}"
                f"{(p.tar or 0):>8.4f}{raw.get(lv, float('nan')):>9.4f}  {conf}"
            )
