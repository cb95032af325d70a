"""Identification commands: ``calibrate --identification``, ``eval identification``, and
``gallery`` (key rotation and re-sealing of the stored templates)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from faceproof.cli.options import (
    build_embedding_engine,
    cache_option,
    cache_path,
    models_option,
)
from faceproof.config import ConfigError, load_settings
from faceproof.datasets import folder_digest
from faceproof.identification import evaluation as ev
from faceproof.identification.evaluation import Labelled
from faceproof.identification.levels import (
    FPIR_TARGETS,
    STATED_SIZES,
    IdentificationCalibration,
    fit_curve,
    load_identification_calibration,
)
from faceproof.identification.sealing import GalleryKeyring
from faceproof.identification.service import IdentificationService, open_store
from faceproof.matching import calibration as cal
from faceproof.matching.dataset import cache_key, embed_folder, load_cached, save_cached
from faceproof.matching.levels import LEVELS
from faceproof.models.mobilefacenet import DEFAULT_EMBEDDING
from faceproof.models.store import sha256_file

DEFAULT_OUT = Path("identification_calibration.json")
DEFAULT_CACHE = Path("identification-lfw")
AUDIT_PAIRS = 200  # most similar cross-identity pairs checked for being one photograph


def load_labelled(
    root: Path,
    label_fixes: Path | None,
    models: Path | None,
    cache: Path | None,
    embedding: str = DEFAULT_EMBEDDING,
) -> tuple[Any, dict[str, Any]]:
    """Every image of the identity folders embedded by the server's pipeline (cached).

    Returns the images with a face (``evaluation.Labelled``) and facts for the file.
    """
    engine, models_path = build_embedding_engine(models, embedding)
    people = cal.identity_images(root)
    fixes = cal.read_label_fixes(label_fixes.read_text(encoding="utf-8")) if label_fixes else []
    relpaths = [p for files in people.values() for p in files]
    names = cal.apply_label_fixes(relpaths, [p.split("/", 1)[0] for p in relpaths], fixes)
    model_sha = sha256_file(models_path / "MobileFaceNet.tflite")
    key = cache_key(model_sha, None, engine.embedding_method)
    cache_file = cache_path(cache) if cache else None
    data = load_cached(cache_file, key, root, relpaths) if cache_file else None
    if data is None and cache_file:  # a `faceproof calibrate` cache: same selfie vectors
        proxied = cache_key(model_sha, 0, engine.embedding_method)
        data = load_cached(cache_file, proxied, root, relpaths)
    if data is None:
        started = time.perf_counter()
        data = embed_folder(engine, root, relpaths)
        click.echo(
            f"embedded {len(relpaths)} images in {time.perf_counter() - started:.0f} s", err=True
        )
        if cache_file:
            save_cached(cache_file, key, root, data)
    else:
        click.echo(f"embeddings from cache {cache_file}", err=True)
    ok = data.selfie_ok
    labelled = Labelled(
        data.selfie[ok],
        [n for n, k in zip(names, ok, strict=True) if k],
        [p for p, k in zip(relpaths, ok, strict=True) if k],
    )
    facts = {
        "root": root.name,
        "digest": folder_digest(root, relpaths),
        "images": len(relpaths),
        "images_without_face": int((~ok).sum()),
        "identities": len(set(names)),
        "label_fixes": len(fixes),
    }
    model = {
        "id": engine.embedder.model_id,
        "file": "MobileFaceNet.tflite",
        "sha256": model_sha,
        "dimension": int(engine.embedder.dimension),
        "embedding": engine.embedding_method,
    }
    return labelled, {"data": facts, "model": model, "engine": engine}


def calibrate_identification(
    root: Path,
    out: Path,
    label_fixes: Path | None,
    models: Path | None,
    cache: Path | None,
    embedding: str = DEFAULT_EMBEDDING,
) -> None:
    """The body of ``faceproof calibrate --identification``."""
    labelled, facts = load_labelled(root, label_fixes, models, cache or DEFAULT_CACHE, embedding)
    # Before the split: a photograph filed under two names may straddle the halves.
    labelled, same = ev.drop_same_photographs(facts["engine"], root, labelled, AUDIT_PAIRS)
    calib, evals = ev.split(labelled)
    click.echo(
        f"calibration half: {len(set(calib.names))} identities, {len(calib.names)} images "
        f"({len(same)} copies of a photograph filed under two names dropped); "
        f"evaluation half (not used here): {len(set(evals.names))} identities",
        err=True,
    )
    impostor = ev.impostor_scores(calib)
    click.echo(f"{len(impostor)} impostor pairs", err=True)
    curve = fit_curve(impostor)
    cal = IdentificationCalibration(curve, dict(FPIR_TARGETS), facts["model"])
    validation = ev.validate_calibration(calib, cal)
    data = {
        **facts["data"],
        "split": ev.SPLIT_RULE,
        "calibration_identities": len(set(calib.names)),
        "calibration_images": len(calib.names),
        "impostor_pairs": len(impostor),
        "same_photograph_pairs_dropped": [list(p) for p in same],
    }
    cal = IdentificationCalibration(curve, dict(FPIR_TARGETS), facts["model"], data, validation)
    doc = cal.to_json(
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "notes": [
                "a level with FPIR target p is met by a candidate whose cosine similarity is "
                "at least threshold(FMR), FMR = 1 - (1 - p)^(1/N), N = templates in the gallery",
                "impostor curve: every cross-identity pair of the calibration half; measured "
                "down to FMR 3/pairs, exponential tail (never below the highest impostor) beyond",
                "validation: FPIR of real non-mated searches against each level's target",
                "label noise: one copy of each photograph filed under two names (NCC >= 0.9 "
                f"among the {AUDIT_PAIRS} most similar cross-identity pairs) is dropped",
            ],
        }
    )
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    _print_levels(cal, validation)
    click.echo(f"\nwrote {out}", err=True)


def _print_levels(cal: Any, validation: dict[str, Any]) -> None:
    click.echo(f"{'level':<10}{'FPIR':>8}" + "".join(f"{'N=' + str(n):>11}" for n in STATED_SIZES))
    for lv in LEVELS:
        cells = "".join(f"{cal.threshold(lv, n):>11.4f}" for n in STATED_SIZES)
        click.echo(f"{lv:<10}{cal.fpir[lv]:>8g}{cells}")
    click.echo(
        f"\nvalidation ({validation['non_mated_searches']} non-mated searches, galleries "
        f"{validation['gallery_sizes']}):"
    )
    for lv, v in validation["levels"].items():
        mark = "" if v["supported"] else "  (too few searches to measure)"
        click.echo(
            f"  {lv:<10} target {v['fpir_target']:g}  measured {v['fpir_measured']:.4g} "
            f"({v['false_positives']}){mark}"
        )


@click.command("identification")
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Identity folders (one sub-folder per person), e.g. ../shared/data/verify/lfw.",
)
@click.option(
    "--label-fixes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Ground-truth corrections (src/faceproof/matching/lfw_label_fixes.tsv for LFW).",
)
@click.option(
    "--calibration",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Identification calibration (default: the shipped one).",
)
@click.option(
    "--distractors",
    default="0,real,10000,100000",
    show_default=True,
    help="Gallery growth steps: 0 (none), real (the calibration half's images), or a number "
    "of distractors (real ones first, then synthetic vectors).",
)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None)
@models_option()
@cache_option()
def eval_identification(
    root: Path,
    label_fixes: Path | None,
    calibration: Path | None,
    distractors: str,
    report: Path | None,
    models: Path | None,
    cache: Path | None,
) -> None:
    """Open-set accuracy on the evaluation half of the identities (disjoint from the
    calibration): rank-1/5, FNIR at FPIR 1 % and 0.1 %, the shipped levels, and how they
    move as distractors grow the gallery."""
    cal = load_identification_calibration(calibration)
    labelled, facts = load_labelled(root, label_fixes, models, cache or DEFAULT_CACHE)
    if cal.model.get("sha256") != facts["model"]["sha256"]:
        raise click.ClickException("the calibration was made for another embedder")
    labelled, same = ev.drop_same_photographs(facts["engine"], root, labelled, AUDIT_PAIRS)
    calib, evals = ev.split(labelled)
    folds = ev.eval_folds(evals)
    real = calib.vectors
    rows = []
    for step in [s.strip() for s in distractors.split(",") if s.strip()]:
        n = len(real) if step == "real" else int(step)
        extra = real[:n]
        if n > len(real):
            extra = np.concatenate([real, ev.synthetic_vectors(real, n - len(real))])
        started = time.perf_counter()
        result = ev.evaluate(folds, cal, extra if n else None)
        result["distractor_kind"] = (
            "none" if n == 0 else "real" if n <= len(real) else f"real {len(real)} + synthetic"
        )
        rows.append(result)
        f1, f01 = result["fnir_at_fpir"]["0.01"], result["fnir_at_fpir"]["0.001"]
        click.echo(
            f"gallery {result['gallery_sizes']} (+{n} distractors): rank-1 {result['rank1']:.4f} "
            f"rank-5 {result['rank5']:.4f}  FNIR@FPIR1% {f1['fnir']:.4f}  "
            f"FNIR@FPIR0.1% {f01['fnir']:.4f}{'' if f01['supported'] else ' (unsupported)'}  "
            f"[{time.perf_counter() - started:.0f} s]",
        )
        for lv in ("MEDIUM", "HIGH"):
            v = result["levels"][lv]
            click.echo(
                f"    {lv}: FPIR target {v['fpir_target']:g} measured {v['fpir_measured']:.4f}, "
                f"FNIR {v['fnir']:.4f}"
            )
    doc = {
        "calibration": {k: cal.data.get(k) for k in ("digest", "impostor_pairs", "split")},
        "data": facts["data"],
        "model": facts["model"],
        "split": ev.SPLIT_RULE,
        "evaluation_identities": len(set(evals.names)),
        "evaluation_images": len(evals.names),
        "same_photograph_pairs_dropped": [list(p) for p in same],
        "folds": "evaluation identities with >= 2 images split in halves by sha256(name)[1]; "
        "one half enrolled (first image), its other images searched (mated); the other "
        "half's images and the non-enrolled single-image identities searched (non-mated); "
        "halves swapped and pooled",
        "synthetic": "Gaussian with the mean and covariance of the calibration half's "
        "embeddings, L2-normalised (seed 0)",
        "results": rows,
    }
    if report:
        report.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {report}", err=True)


@click.group("gallery")
def gallery_group() -> None:
    """Gallery template keys: rotate, re-seal stored templates, drop a retired key."""


def _services_for_cli() -> Any:
    try:
        settings = load_settings()
        keyring = GalleryKeyring.open(
            settings.keys_path, create=False, read_only=settings.keys_read_only
        )
        cal = load_identification_calibration(settings.identification_calibration_path)
        dim = int(cal.model.get("dimension", 192))
        store = open_store(settings.database_url, settings.data_dir, dim)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return settings, IdentificationService(store, keyring, cal, "", b"", dim)


def _writable_keys(settings: Any) -> None:
    if settings.keys_read_only:
        raise click.ClickException(
            f"{settings.keys_path} is read-only (FACEPROOF_KEYS_READ_ONLY): change the gallery "
            "key where the deployment keys are made, then update the mounted secret"
        )


@gallery_group.command("rotate-key")
def rotate_key() -> None:
    """New current key for templates enrolled from now on (old rows keep their key)."""
    settings = load_settings()
    _writable_keys(settings)
    kid = GalleryKeyring.rotate(settings.keys_path)
    click.echo(
        f"current gallery key: {kid} (running workers pick it up on their next "
        "restart; run `faceproof gallery reseal` to move old rows to it)"
    )


@gallery_group.command("reseal")
def reseal() -> None:
    """Re-encrypt every stored template under the current key (then old keys may go)."""
    _, service = _services_for_cli()
    try:
        click.echo(f"re-sealed {service.reseal()} templates under {service.keyring.current}")
    finally:
        service.close()


@gallery_group.command("drop-key")
@click.argument("kid")
def drop_key(kid: str) -> None:
    """Remove a retired key; refused while any stored template still uses it."""
    settings, service = _services_for_cli()
    _writable_keys(settings)
    try:
        in_use = sum(1 for _, t in service.store.all_templates() if t.kid == kid)
    finally:
        service.close()
    if in_use:
        raise click.ClickException(f"{in_use} templates still use {kid}: run reseal first")
    try:
        GalleryKeyring.drop(settings.keys_path, kid)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"dropped gallery key {kid}", file=sys.stderr)
