"""The match calibration: per comparison type, the similarity threshold of every level.

Thresholds are fitted on impostor (different-person) similarities: a level with false-accept
target ``f`` accepts ``sim >= t`` where at most ``floor(f·N)`` of the ``N`` impostor pairs reach
``t``. A point is *supported* when ``N >= 3/f`` (rule of three: even with no impostor beyond
``t`` the 95 % upper bound of the FAR would still be ``f``); below that the threshold is
extrapolated with an exponential tail fitted to the top impostor scores (peaks over
threshold) and never put below the highest impostor seen — conservative for cosine scores,
whose tail is bounded and lighter than exponential. Both are stated in the file.

The file is versioned and names the model and data it came from; a server refuses to start
with a calibration made for another embedder (the thresholds would be meaningless).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.config import ConfigError
from faceproof.datasets import image_files
from faceproof.error_rates import (
    SUPPORT_FACTOR,
    accept_rate,
    next_above,
    supported,
    thresholds_at_accept_rates,
)
from faceproof.matching.levels import FAR_TARGETS, KINDS, LEVELS, SCORE_ANCHORS, Kind
from faceproof.matching.pairs import Pair
from faceproof.matching.similarity_map import SimilarityMap

FORMAT = "faceproof-match-calibration"
VERSION = 1


@dataclass(frozen=True)
class LevelPoint:
    level: str
    far_target: float
    similarity: float
    method: str  # "empirical" | "tail_fit"
    impostor_pairs_beyond: int  # impostor pairs with sim >= similarity
    supported: bool
    far_upper95: float  # one-sided 95 % Clopper-Pearson bound on the FAR at the threshold
    tar: float | None = None  # genuine pairs accepted (on the calibration data: optimistic)
    tail_fit_similarity: float | None = None  # the tail model's threshold, for comparison


@dataclass(frozen=True)
class KindCalibration:
    kind: Kind
    levels: dict[str, LevelPoint]
    zero_similarity: float  # similarityScore is 0 at/below (the LOW threshold)
    genuine_pairs: int
    impostor_pairs: int
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def threshold(self, level: str) -> float:
        return self.levels[level].similarity

    def similarity_map(self) -> SimilarityMap:
        anchors = [(self.threshold(lv), score) for lv, score in SCORE_ANCHORS[self.kind]]
        return SimilarityMap.build(self.zero_similarity, anchors)


@dataclass(frozen=True)
class MatchCalibration:
    kinds: dict[Kind, KindCalibration]
    model: dict[str, Any]
    data: dict[str, Any]
    created: str = ""
    pipeline: str = ""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created": self.created,
            "model": self.model,
            "pipeline": self.pipeline,
            "data": self.data,
            "notes": list(self.notes),
            "kinds": {
                k: {
                    "genuine_pairs": c.genuine_pairs,
                    "impostor_pairs": c.impostor_pairs,
                    "zero_similarity": c.zero_similarity,
                    "notes": list(c.notes),
                    **c.extra,
                    "levels": {lv: _point_json(p) for lv, p in c.levels.items()},
                }
                for k, c in self.kinds.items()
            },
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MatchCalibration:
        """Parse and validate; raises ValueError with the first problem."""
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} v{VERSION} file")
        kinds: dict[Kind, KindCalibration] = {}
        for kind in KINDS:
            k = doc["kinds"][kind]
            levels = {lv: LevelPoint(level=lv, **k["levels"][lv]) for lv in LEVELS}
            known = {"genuine_pairs", "impostor_pairs", "zero_similarity", "notes", "levels"}
            kinds[kind] = KindCalibration(
                kind=kind,
                levels=levels,
                zero_similarity=float(k["zero_similarity"]),
                genuine_pairs=int(k["genuine_pairs"]),
                impostor_pairs=int(k["impostor_pairs"]),
                notes=tuple(k.get("notes", ())),
                extra={key: v for key, v in k.items() if key not in known},
            )
        cal = cls(
            kinds=kinds,
            model=dict(doc["model"]),
            data=dict(doc["data"]),
            created=str(doc.get("created", "")),
            pipeline=str(doc.get("pipeline", "")),
            notes=tuple(doc.get("notes", ())),
        )
        cal.validate()
        return cal

    def validate(self) -> None:
        for kind, c in self.kinds.items():
            sims = [c.threshold(lv) for lv in LEVELS]
            if any(not (-1.0 < s < 1.0) for s in sims):
                raise ValueError(f"{kind}: thresholds must lie in (-1, 1)")
            if any(b <= a for a, b in itertools.pairwise(sims)):
                raise ValueError(f"{kind}: thresholds must increase strictly with the level")
            for lv in LEVELS:
                if not math.isclose(c.levels[lv].far_target, FAR_TARGETS[kind][lv]):
                    raise ValueError(f"{kind}/{lv}: FAR target differs from the contract")
            c.similarity_map()  # raises when the zero point is not below the first anchor


def _point_json(p: LevelPoint) -> dict[str, Any]:
    return {k: v for k, v in p.__dict__.items() if k != "level"}


# -- loading -----------------------------------------------------------------------------


def load_match_calibration(path: Path | None = None) -> MatchCalibration:
    """The given file, else the one shipped in the package; ConfigError when unusable."""
    where = str(path) if path else "faceproof/data/match_calibration.json"
    try:
        if path is None:
            text = resources.files("faceproof").joinpath("data/match_calibration.json").read_text()
        else:
            text = Path(path).read_text(encoding="utf-8")
        return MatchCalibration.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"match calibration {where}: {exc}") from None


# -- digests -----------------------------------------------------------------------------


def identity_images(root: Path) -> dict[str, list[str]]:
    """``{identity: [relative image paths]}`` from one folder per person (sorted)."""
    out: dict[str, list[str]] = {}
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        files = [f.relative_to(root).as_posix() for f in image_files(person, recursive=False)]
        if files:
            out[person.name] = files
    return out


def fold_identities(pairs: Sequence[Pair], folds: Collection[int]) -> set[str]:
    """The identity folders of ``folds`` of a pairs file; ValueError names a missing fold."""
    wanted = set(folds)
    missing = wanted - {p.fold for p in pairs}
    if missing:
        raise ValueError(f"the pairs file has no fold {sorted(missing)[0]}")
    return {rel.split("/", 1)[0] for p in pairs if p.fold in wanted for rel in (p.a, p.b)}


def without_identities(
    people: dict[str, list[str]],
    names: Collection[str],
    fixes: Sequence[tuple[str, str, str, str]] = (),
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """``people`` without the identities ``names``, taken after the label fixes.

    LFW's View-2 folds are identity-disjoint, so calibrating without a fold's identities
    (``fold_identities``) makes the fold an out-of-sample test of the thresholds. An alias
    of a held-out person, or an image that shows one, is held out too. Returns the kept
    folders and how many identity folders and images were held out.
    """
    alias = {b: a for kind, a, b, _ in fixes if kind == "alias"}
    held = {alias.get(f, f) for f in names}
    kept: dict[str, list[str]] = {}
    held_ids = held_images = 0
    for person, files in people.items():
        if alias.get(person, person) in held:
            held_ids += 1
            held_images += len(files)
            continue
        idents = apply_label_fixes(files, [person] * len(files), fixes)
        keep = [f for f, ident in zip(files, idents, strict=True) if ident not in held]
        held_images += len(files) - len(keep)
        if keep:
            kept[person] = keep
    return kept, {"identities": held_ids, "images": held_images}


# -- pair scores -------------------------------------------------------------------------


F32Array = NDArray[np.float32]


def pair_scores(
    probe: F32Array,
    reference: F32Array,
    labels: NDArray[np.int64],
    *,
    symmetric: bool,
    exclude: frozenset[tuple[int, int]] = frozenset(),
    block: int = 1024,
) -> tuple[F32Array, F32Array]:
    """(genuine, impostor) cosine similarities of every pair of rows.

    ``probe`` and ``reference`` are L2-normalised embeddings of the same images (row ``i`` of
    both is image ``i``, ``labels[i]`` its identity). ``symmetric``: each unordered pair once
    (``probe is reference``); otherwise every ordered pair ``(i, j), i != j`` (the reference
    side was transformed, so (i, j) and (j, i) are different comparisons). Pairs in
    ``exclude`` (either order) are left out of both lists.
    """
    n = len(labels)
    skip: dict[int, list[int]] = {}
    for i, j in exclude:
        skip.setdefault(i, []).append(j)
        skip.setdefault(j, []).append(i)
    genuine: list[F32Array] = []
    impostor: list[F32Array] = []
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = probe[start:stop] @ reference.T
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(n)[None, :]
        keep = cols > rows if symmetric else cols != rows
        for i in range(start, stop):
            if i in skip:
                keep[i - start, skip[i]] = False
        same = labels[start:stop, None] == labels[None, :]
        genuine.append(sims[keep & same].astype(np.float32))
        impostor.append(sims[keep & ~same].astype(np.float32))
    return np.concatenate(genuine), np.concatenate(impostor)


def top_impostor_pairs(
    emb: F32Array, labels: NDArray[np.int64], m: int, block: int = 1024
) -> list[tuple[float, int, int]]:
    """The ``m`` most similar cross-identity pairs (i < j) of one embedding set."""
    best: list[tuple[float, int, int]] = []
    n = len(labels)
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = emb[start:stop] @ emb.T
        rows = np.arange(start, stop)[:, None]
        valid = (np.arange(n)[None, :] > rows) & (labels[start:stop, None] != labels[None, :])
        sims = np.where(valid, sims, -np.inf)
        flat = sims.ravel()
        k = min(m, int(np.count_nonzero(valid)))
        if k == 0:
            continue
        idx = np.argpartition(flat, len(flat) - k)[len(flat) - k :]
        for f in idx:
            r, c = divmod(int(f), n)
            best.append((float(flat[f]), start + r, c))
        best = sorted(best, reverse=True)[:m]
    return best


def read_label_fixes(text: str) -> list[tuple[str, str, str, str]]:
    """Ground-truth corrections, one per line, tab-separated, ``#`` lines are comments.

    ``alias  NameA  NameB  reason``: two folders are one person.
    ``image  Name/file.jpg  TrueName  reason``: an image shows someone else.
    """
    fixes = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 4 or parts[0] not in ("alias", "image") or not parts[3]:
            raise ValueError(f"label fixes line {n}: expected kind, a, b, reason (tab-separated)")
        fixes.append((parts[0], parts[1], parts[2], parts[3]))
    return fixes


def apply_label_fixes(
    relpaths: Sequence[str], identity: Sequence[str], fixes: Sequence[tuple[str, str, str, str]]
) -> list[str]:
    """Identity per image after the corrections (aliases map onto the first name)."""
    alias = {b: a for kind, a, b, _ in fixes if kind == "alias"}
    image = {a: b for kind, a, b, _ in fixes if kind == "image"}
    out = []
    for rel, ident in zip(relpaths, identity, strict=True):
        name = image.get(rel, ident)
        out.append(alias.get(name, name))
    return out


# -- fitting -----------------------------------------------------------------------------


def _cp_upper(k: int, n: int, conf: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate with ``k`` events in ``n`` trials."""
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0
    # lazy: SciPy is the eval extra (not in the server install), ~3 s to import
    from scipy.stats import beta

    return float(beta.ppf(conf, k + 1, n - k))


@dataclass(frozen=True)
class TailFit:
    """Exponential tail over the ``exceedances`` highest impostor scores (u = their floor)."""

    u: float
    rate_u: float  # fraction of impostor pairs above u
    scale: float

    def threshold(self, far: float) -> float:
        return self.u + self.scale * math.log(self.rate_u / far)


def fit_tail(top_desc: NDArray[np.float64], n_total: int) -> TailFit | None:
    """Peaks-over-threshold fit with the exponential (GPD shape 0) model."""
    m = min(max(100, n_total // 1000), n_total // 10, len(top_desc) - 1)
    if m < 10:
        return None
    u = float(top_desc[m])
    scale = float(np.mean(top_desc[:m] - u))
    if scale <= 0:
        return None
    return TailFit(u=u, rate_u=m / n_total, scale=scale)


def fit_kind(
    kind: Kind,
    genuine: F32Array,
    impostor: F32Array,
    notes: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> KindCalibration:
    """Thresholds of every level of ``kind`` from genuine and impostor similarities.

    Thresholds lie on the float32 grid (:mod:`faceproof.error_rates`): embeddings are
    float32, so a threshold decides the same way in float32 or float64.
    """
    n = len(impostor)
    if n < 100:
        raise ValueError(f"{kind}: too few impostor pairs ({n}) to calibrate")
    min_far = min(FAR_TARGETS[kind].values())
    # Enough of the top to reach the strictest level and the tail fit, not a full sort.
    top_n = min(n, max(math.ceil(max(FAR_TARGETS[kind].values()) * n) + 2, 2000))
    top = np.partition(impostor, n - top_n)[n - top_n :]
    top_desc = np.sort(top)[::-1].astype(np.float64)
    tail = fit_tail(top_desc, n)
    fars = [FAR_TARGETS[kind][lv] for lv in LEVELS]
    empirical_at = dict(
        zip(LEVELS, thresholds_at_accept_rates(impostor, fars, float32=True), strict=True)
    )
    points: dict[str, LevelPoint] = {}
    prev = -1.0
    for rank, level in enumerate(LEVELS):
        far = FAR_TARGETS[kind][level]
        is_supported = supported(n, far)
        empirical = empirical_at[level]
        tail_t = tail.threshold(far) if tail and far < tail.rate_u else None
        if is_supported:
            t, method = empirical, "empirical"
        else:
            above_max = next_above(top_desc[0], float32=True)
            t = max(tail_t if tail_t is not None else above_max, above_max)
            method = "tail_fit"
        # Strictly increasing, and below 1 with room for the stricter levels (an extrapolation
        # from very few pairs can exceed any reachable cosine).
        t = min(max(t, next_above(prev, float32=True)), 0.9999 - 1e-4 * (len(LEVELS) - 1 - rank))
        prev = t
        beyond = int(np.count_nonzero(top_desc >= t))
        tar = accept_rate(genuine, t) if len(genuine) else None
        points[level] = LevelPoint(
            level=level,
            far_target=far,
            similarity=t,
            method=method,
            impostor_pairs_beyond=beyond,
            supported=is_supported,
            far_upper95=_cp_upper(beyond, n),
            tar=None if tar is None else round(tar, 6),
            tail_fit_similarity=None if tail_t is None else round(tail_t, 6),
        )
    all_notes = list(notes)
    unsupported = [lv for lv, p in points.items() if not p.supported]
    if unsupported:
        all_notes.append(
            f"{', '.join(unsupported)}: fewer than {SUPPORT_FACTOR:g}/FAR impostor pairs "
            f"({n} available, {int(SUPPORT_FACTOR / min_far)} needed for the strictest level); "
            "threshold extrapolated with an exponential tail fit, not measured"
        )
    # similarityScore is 0 up to the LOW point (FAR 1:100): a pair that an impostor beats
    # once in a hundred tries shows no resemblance worth a number (and, as in the
    # reference's example, LOW can be reached with similarityScore 0).
    zero = points["LOW"].similarity
    fit_info = (
        {"u": round(tail.u, 6), "rate_u": tail.rate_u, "scale": round(tail.scale, 6)}
        if tail
        else None
    )
    return KindCalibration(
        kind=kind,
        levels=points,
        zero_similarity=zero,
        genuine_pairs=len(genuine),
        impostor_pairs=n,
        notes=tuple(all_notes),
        extra={"tail_fit": fit_info, **(extra or {})},
    )
