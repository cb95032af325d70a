"""Fit the fusion, calibrate the levels, and evaluate leave-one-source-out.

Data layout (as ``../shared/data/pad``): ``LIVE_DIR`` holds bona fide images, ``SPOOF_DIR``
one sub-folder per attack type (its name is the attack type). The *source* of an image (the
data set it came from) is read from a ``labels.csv`` beside the two folders when there is one,
else from the file-name prefix before ``__``; leave-one-source-out evaluation needs it.

Cue values (numbers, never pixels) are cached per file content in a cache directory, so
re-running with other fusion settings costs nothing. Nothing here writes images anywhere.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.datasets import data_digest, image_files
from faceproof.error_rates import auc
from faceproof.liveness.fusion import (
    SIGNS,
    FusionModel,
    PassiveModels,
    extract,
    fit_fusion,
)
from faceproof.liveness.levels import TARGET_APCER, LivenessCalibration, calibrate
from faceproof.liveness.metrics import summary
from faceproof.pipeline.decode import decode_image
from faceproof.pipeline.engine import FaceEngine
from faceproof.private_cache import check_private_dir, open_private, user_cache_dir, write_private

log = logging.getLogger(__name__)

CUE_VERSION = "2"  # bump when a cue's definition changes: invalidates cached values
# `--cache` default: this user's private cache directory (resolved by CueCache)
DEFAULT_CACHE = Path("~/.cache/faceproof (or $XDG_CACHE_HOME/faceproof)")
FUSED_FEATURES: tuple[str, ...] = (
    "hf64",
    "slope96",
    "block",
    "noise64",
    "moire96",
    "human",
    "expo",
)
DEFAULT_L2 = 200.0
# The MiniFASNet pair alone (liveness.minifasnet): the primary passive score.
PAIR_FEATURES: tuple[str, ...] = ("mfn",)
# Today's fusion before the pair (kept for comparison in `faceproof eval liveness`).
OLD_FEATURES: tuple[str, ...] = FUSED_FEATURES
# What `faceproof liveness train` fits and ships, chosen leave-one-source-out
# (docs/liveness.md): the pair plus `noise64`, the one cue that raises the held-out AUC and
# BPCER@APCER=1 % on both tight-crop sources without any level getting worse on the
# full-frame source. `hf64` (alone or with noise64) lets that source's print through at
# LOW..MODERATE when it is held out; the 7-cue fusion, the human/expo CNNs and the other
# cues did not earn a place.
SHIPPED_FEATURES: tuple[str, ...] = ("mfn", "noise64")
# The strongest rejected candidate, kept in the comparison tables.
CANDIDATE_FEATURES: tuple[str, ...] = ("mfn", "hf64", "noise64")


def single_cue_model(name: str, meta: dict[str, Any] | None = None) -> FusionModel:
    """One cue with its physical sign, nothing fitted: P(attack) = sigmoid(sign · value)."""
    return FusionModel(
        (name,),
        np.zeros(1),
        np.ones(1),
        np.array([float(SIGNS[name])]),
        0.0,
        {"model": f"the single cue {name} with its physical sign, nothing fitted", **(meta or {})},
        "",
    )


def pair_model(meta: dict[str, Any] | None = None) -> FusionModel:
    """The pair's own score as a fusion file: P(attack) = sigmoid(−mfn) = 1 − mean real
    probability, so the liveness score is exactly upstream's (mean of the two networks)."""
    return single_cue_model(
        "mfn",
        {"model": "MiniFASNet pair alone (mean real probability), nothing fitted", **(meta or {})},
    )


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str  # "live" | "spoof"
    attack: str  # attack type; "none" for bona fide
    source: str


def _labels_sources(root: Path) -> dict[str, str]:
    labels = root / "labels.csv"
    if not labels.is_file():
        return {}
    with labels.open(newline="") as fh:
        return {row["path"]: row["source"] for row in csv.DictReader(fh) if row.get("source")}


def load_samples(live_dir: Path, spoof_dir: Path) -> list[Sample]:
    """Bona fide and attack images with attack type and source."""
    root = Path(live_dir).resolve().parent
    sources = _labels_sources(root)

    def source_of(p: Path) -> str:
        try:
            rel = p.resolve().relative_to(root).as_posix()
        except ValueError:
            rel = ""
        return sources.get(rel) or (p.name.split("__", 1)[0] if "__" in p.name else "unknown")

    out = [Sample(p, "live", "none", source_of(p)) for p in image_files(Path(live_dir))]
    spoof_dir = Path(spoof_dir)
    for p in image_files(spoof_dir):
        parts = p.relative_to(spoof_dir).parts
        attack = parts[0] if len(parts) > 1 else "unknown"
        out.append(Sample(p, "spoof", attack, source_of(p)))
    return out


def samples_digest(samples: Sequence[Sample]) -> str:
    """The data digest (:func:`faceproof.datasets.data_digest`) of the samples, each keyed by
    its label, attack type and source (so a relabelled or re-sourced file changes it)."""
    return data_digest((f"{s.label}\t{s.attack}\t{s.source}", s.path) for s in samples)


class CueCache:
    """Cue values per (file content, variant) in one JSON file; numbers only.

    Cue values are derived from face images, so the file is kept private: by default in
    this user's cache directory (``$XDG_CACHE_HOME/faceproof`` or ``~/.cache/faceproof``,
    0700), or in a directory given with ``--cache`` that must be this user's and writable by
    no one else; the file is written 0600 through a fresh temporary file (never through a
    path someone else could have planted). ``cache_dir=None`` disables the cache.
    """

    def __init__(self, cache_dir: Path | None) -> None:
        self.path: Path | None = None
        self.data: dict[str, Any] = {}
        if cache_dir is None:
            return
        folder = Path(cache_dir)
        if folder == DEFAULT_CACHE:
            folder = user_cache_dir()
        else:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_private_dir(folder.absolute())
        self.path = folder.absolute() / f"liveness-cues-v{CUE_VERSION}.json"
        f = open_private(self.path)
        if f is not None:
            with f:
                self.data = json.loads(f.read())

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value

    def save(self) -> None:
        if self.path:
            raw = json.dumps(self.data).encode()

            def write(f: IO[bytes]) -> None:
                f.write(raw)

            write_private(self.path, write)


class CueExtractor:
    """Decode → detect (document mode) → cues; results cached."""

    def __init__(self, models_path: Path, cache: CueCache, names: Sequence[str]) -> None:
        self.engine = FaceEngine(Path(models_path))
        self.models = PassiveModels(Path(models_path))
        self.cache = cache
        self.names = list(names)

    def cues(
        self, path: Path, downscale_to_face_width: float | None = None
    ) -> dict[str, float] | None:
        """Cues of the main face, or None without a face. With ``downscale_to_face_width``,
        the image is first shrunk so the face has that width (resolution-matched check)."""
        raw = path.read_bytes()
        variant = "orig" if downscale_to_face_width is None else f"w{downscale_to_face_width:.0f}"
        key = f"{hashlib.sha256(raw).hexdigest()}:{variant}"
        cached = self.cache.get(key)
        if cached is not None and (cached == "noface" or all(n in cached for n in self.names)):
            return None if cached == "noface" else dict(cached)
        rgb = decode_image(raw, max_pixels=60_000_000).rgb
        det = self.engine.find_faces(rgb, "document").main
        if det is not None and downscale_to_face_width is not None:
            k = downscale_to_face_width / max(det.width, 1.0)
            if k < 1.0:
                small = cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
                rgb = np.asarray(small, dtype=np.uint8)
                det = self.engine.find_faces(rgb, "document").main
        if det is None:
            self.cache.put(key, "noface")
            return None
        values = extract(rgb, det, self.names, self.models)
        values["_face_width"] = float(det.width)
        self.cache.put(key, values)
        return values


@dataclass
class Table:
    """Cue matrix of the samples that have a face."""

    samples: list[Sample]
    x: NDArray[np.float64]
    names: list[str]
    face_width: NDArray[np.float64]
    missing: list[Sample]

    @property
    def y(self) -> NDArray[np.bool_]:
        return np.array([s.label == "spoof" for s in self.samples], dtype=bool)

    def column(self, name: str) -> NDArray[np.float64]:
        return self.x[:, self.names.index(name)]


def build_table(
    samples: Iterable[Sample],
    extractor: CueExtractor,
    *,
    live_face_width: dict[str, float] | None = None,
) -> Table:
    """Cues for every sample; ``live_face_width`` (per source) downscales bona fide images."""
    rows, keep, widths, missing = [], [], [], []
    for i, s in enumerate(samples):
        target = (live_face_width or {}).get(s.source) if s.label == "live" else None
        values = extractor.cues(s.path, target)
        if values is None:
            missing.append(s)
            continue
        rows.append([values[n] for n in extractor.names])
        widths.append(values["_face_width"])
        keep.append(s)
        if i % 100 == 99:
            extractor.cache.save()
    extractor.cache.save()
    return Table(
        keep,
        np.array(rows, dtype=np.float64).reshape(len(keep), len(extractor.names)),
        list(extractor.names),
        np.array(widths),
        missing,
    )


def _subset(table: Table, mask: NDArray[np.bool_], names: Sequence[str]) -> NDArray[np.float64]:
    cols = [table.names.index(n) for n in names]
    return table.x[mask][:, cols]


def attacks_by_type(
    table: Table, scores: NDArray[np.float64], mask: NDArray[np.bool_]
) -> dict[str, NDArray[np.float64]]:
    """The masked attack scores grouped by attack type (PAI species)."""
    out: dict[str, list[float]] = {}
    for s, v, m in zip(table.samples, scores, mask, strict=True):
        if m and s.label == "spoof":
            out.setdefault(s.attack, []).append(float(v))
    return {k: np.array(v) for k, v in sorted(out.items())}


def fit_model(
    table: Table,
    mask: NDArray[np.bool_],
    features: Sequence[str],
    l2: float,
    meta: dict[str, Any] | None = None,
) -> FusionModel:
    """A single cue is a fixed model (nothing fitted: the cue with its physical sign; for the
    MiniFASNet pair that is upstream's mean real probability); a feature set is a
    sign-constrained fusion fitted on the masked rows."""
    if len(features) == 1:
        return single_cue_model(features[0], meta)
    return fit_fusion(_subset(table, mask, features), table.y[mask], features, l2=l2, meta=meta)


def fit_and_calibrate(
    table: Table,
    mask: NDArray[np.bool_],
    features: Sequence[str],
    l2: float,
    meta: dict[str, Any] | None = None,
) -> tuple[FusionModel, LivenessCalibration]:
    """Model fitted on the masked rows; levels calibrated on the same rows' scores, on the
    worst attack type."""
    model = fit_model(table, mask, features, l2, meta)
    scores = scores_of(model, _subset(table, np.ones(len(table.samples), bool), features))
    calib = calibrate(
        attacks_by_type(table, scores, mask),
        scores[mask & ~table.y],
        meta={"fusion_sha256": model.digest},
    )
    return model, calib


def scores_of(model: FusionModel, x: NDArray[np.float64]) -> NDArray[np.float64]:
    z = ((x - model.mean) / model.scale) @ model.weights + model.bias
    return np.asarray(1.0 - 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60))), dtype=np.float64)


def report(
    table: Table,
    scores: NDArray[np.float64],
    mask: NDArray[np.bool_],
    calib: LivenessCalibration | None,
) -> dict[str, object]:
    bona = scores[mask & ~table.y]
    return summary(bona, attacks_by_type(table, scores, mask), calib.thresholds if calib else None)


def leave_one_source_out(
    table: Table,
    features: Sequence[str],
    l2: float,
    *,
    resolution_matched: Table | None = None,
) -> dict[str, Any]:
    """For each source with both classes elsewhere: fit + calibrate on the other sources,
    score the held-out source. Also the pooled out-of-source scores of all folds."""
    sources = sorted({s.source for s in table.samples})
    src = np.array([s.source for s in table.samples])
    folds: dict[str, Any] = {}
    pooled = np.full(len(table.samples), np.nan)
    pooled_rm = None
    if resolution_matched is not None:
        src_rm = np.array([s.source for s in resolution_matched.samples])
        pooled_rm = np.full(len(resolution_matched.samples), np.nan)
    for held in sources:
        train = src != held
        if table.y[train].all() or not table.y[train].any():
            continue
        model, calib = fit_and_calibrate(table, train, features, l2)
        scores = scores_of(model, _subset(table, np.ones(len(src), bool), features))
        test = ~train
        pooled[test] = scores[test]
        fold: dict[str, Any] = {
            "trained_on": [s for s in sources if s != held],
            "weights": dict(zip(features, np.round(model.weights * 1.0, 4).tolist(), strict=True)),
            "test": report(table, scores, test, calib),
        }
        if resolution_matched is not None and pooled_rm is not None:
            rm_scores = scores_of(
                model, _subset(resolution_matched, np.ones(len(src_rm), bool), features)
            )
            rm_test = src_rm == held
            pooled_rm[rm_test] = rm_scores[rm_test]
            fold["test_resolution_matched"] = report(resolution_matched, rm_scores, rm_test, calib)
        folds[held] = fold
    done = ~np.isnan(pooled)
    out: dict[str, Any] = {"folds": folds, "pooled": report(table, pooled, done, None)}
    if resolution_matched is not None and pooled_rm is not None:
        done_rm = ~np.isnan(pooled_rm)
        out["pooled_resolution_matched"] = report(resolution_matched, pooled_rm, done_rm, None)
    return out


def size_only_auc(table: Table) -> float:
    """AUC of the face width alone (bona fide = larger): how much crop size could explain."""
    y = table.y
    return auc(table.face_width[~y], table.face_width[y])


def resolution_matched_widths(table: Table) -> dict[str, float]:
    """Per source, the median attack face width: bona fide faces are shrunk to it."""
    out: dict[str, float] = {}
    for source in {s.source for s in table.samples}:
        m = np.array([s.source == source and s.label == "spoof" for s in table.samples])
        if m.any():
            out[source] = float(np.median(table.face_width[m]))
    return out


def train(
    live_dir: Path,
    spoof_dir: Path,
    models_path: Path,
    out_dir: Path,
    cache_dir: Path | None,
    *,
    l2: float = DEFAULT_L2,
    features: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Fit on all data, write fusion + calibration JSON to ``out_dir``; returns a summary.

    ``features`` defaults to ``SHIPPED_FEATURES``; the MiniFASNet pair alone is written as a
    fixed model (nothing fitted), the levels are calibrated on the worst attack type.
    """
    features = tuple(features or SHIPPED_FEATURES)
    samples = load_samples(live_dir, spoof_dir)
    extractor = CueExtractor(models_path, CueCache(cache_dir), sorted(set(features)))
    table = build_table(samples, extractor)
    digest = samples_digest(samples)
    meta = {
        "data_sha256": digest,
        "n_bona_fide": int((~table.y).sum()),
        "n_attack": int(table.y.sum()),
        "n_without_face": len(table.missing),
        "sources": sorted({s.source for s in table.samples}),
        "l2": l2,
        "cue_version": CUE_VERSION,
    }
    everything = np.ones(len(table.samples), dtype=bool)
    model = fit_model(table, everything, features, l2, meta)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fusion_raw = (json.dumps(model.to_json(), indent=2) + "\n").encode()
    (out_dir / "liveness_fusion.json").write_bytes(fusion_raw)
    fusion_digest = hashlib.sha256(fusion_raw).hexdigest()
    # Calibrate the model as written (its numbers are rounded in the file), so thresholds
    # that sit on a sample's score decide the same way for the server.
    model = FusionModel.from_json(json.loads(fusion_raw), fusion_digest)
    scores = scores_of(model, _subset(table, everything, features))
    calib = calibrate(
        attacks_by_type(table, scores, everything),
        scores[~table.y],
        meta={
            "fusion_sha256": fusion_digest,
            "data_sha256": digest,
            "targets": TARGET_APCER,
            "n_bona_fide": meta["n_bona_fide"],
            "n_attack": meta["n_attack"],
            "calibrated_on": "the worst attack type per level (ISO/IEC 30107-3 APCER per PAI "
            "species); a level is supported by a type only with >= 3/target attacks of it",
        },
    )
    (out_dir / "liveness_calibration.json").write_text(json.dumps(calib.to_json(), indent=2) + "\n")
    return {"fusion": model.to_json(), "calibration": calib.to_json()}
