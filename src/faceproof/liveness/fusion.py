"""Feature extraction and the fusion model that turns cues into one attack probability.

The fusion is a logistic regression whose weights are **sign-constrained**: each cue enters
only in the direction its physics predicts (less high-frequency detail → more likely an
attack, stronger codec blocks → more likely an attack, …; the CNNs' scores → attack), and is
shrunk hard towards zero (L2). With only a few subjects and sources in the development data,
an unconstrained fit learns which *source* it is looking at (colour casts, the camera's
noise) rather than whether the face was re-captured; the constraints and the shrinkage are
what make it transfer to a source it has not seen (see docs/liveness.md for the
leave-one-source-out numbers). Parameters live in ``data/liveness_fusion.json`` as plain
numbers; :mod:`faceproof.liveness.train` writes it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import U8, Detection
from faceproof.liveness import cues
from faceproof.liveness.minifasnet import NETWORKS, MiniFASNetPair, PairScore
from faceproof.liveness.passive_model import (
    EXPO_MODEL,
    HUMAN_GRAPH,
    HUMAN_WEIGHTS,
    ExpoAntiSpoofing,
    HumanAntispoof,
    square_crop,
)

FUSION_FILE = "liveness_fusion.json"

# Physically expected direction of each cue: +1 = larger value means more likely an attack.
SIGNS: dict[str, int] = {
    "hf64": -1,  # re-capture blurs: less energy above a quarter of the sampling rate
    "slope96": -1,  # ... and a steeper spectral fall-off
    "block": +1,  # a second lossy codec pass: 8×8 block edges
    "noise64": -1,  # a screen/print is smoother than skin seen through a sensor
    "moire96": +1,  # aliased screen pixel grid
    "human": +1,  # pretrained CNN (human-models antispoof): attack probability
    "expo": +1,  # pretrained CNN (expo FaceAntiSpoofing): attack score
    # MiniFASNet pair (liveness.minifasnet): logit of the mean real probability → live
    "mfn": -1,
    "mfn_v2": -1,
    "mfn_v1se": -1,
    # Candidates measured but not fused (source-dependent in the dev data, docs/liveness.md):
    "sat_std": -1,
    "dr_lo": +1,
    "spec": +1,
}


# Model files (manifest names) each CNN cue needs; the MiniFASNet pair is bundled in the
# package and verified like the store's files.
CUE_MODEL_FILES: dict[str, tuple[str, ...]] = {
    "human": (HUMAN_GRAPH, HUMAN_WEIGHTS),
    "expo": (EXPO_MODEL,),
    **{n: tuple(name for name, _ in NETWORKS) for n in ("mfn", "mfn_v2", "mfn_v1se", "mfn_ctx")},
}


def needed_models(features: Sequence[str]) -> tuple[list[str], list[str]]:
    """(PassiveModels names, manifest file names) the given cues need."""
    kinds = sorted({"mfn" if f.startswith("mfn") else f for f in features if f in CUE_MODEL_FILES})
    files = sorted({name for f in features for name in CUE_MODEL_FILES.get(f, ())})
    return kinds, files


class PassiveModels:
    """The pretrained CNNs, loaded once (any may be absent: its cue is then unavailable)."""

    def __init__(self, models_path: Path, names: Sequence[str] = ("human", "expo", "mfn")) -> None:
        self.human = HumanAntispoof(models_path) if "human" in names else None
        self.expo = ExpoAntiSpoofing(models_path) if "expo" in names else None
        self.mfn = MiniFASNetPair() if "mfn" in names else None


def logit(p: float) -> float:
    """log(p / (1 − p)), with p clipped to [1e-6, 1 − 1e-6] (float32 softmax resolution)."""
    q = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(q / (1.0 - q))


# Cues that one MiniFASNet pair run gives together (computed once per face).
MFN_CUES: dict[str, Callable[[PairScore], float]] = {
    "mfn": lambda s: logit(s.score),
    "mfn_v2": lambda s: logit(s.v2),
    "mfn_v1se": lambda s: logit(s.v1se),
    "mfn_ctx": lambda s: s.context_v2,
}


def _face(rgb: U8, square: tuple[float, float, float, float], size: int) -> U8:
    return square_crop(rgb, square, 1.0, size)


# name -> function(rgb, detection, models) computing that cue
_Extractor = Callable[[U8, Detection, PassiveModels | None], float]


def _inner(rgb: U8, det: Detection, size: int) -> U8:
    return _face(rgb, cues.face_square(det.box), size)


def _cnn(name: str) -> _Extractor:
    def run(rgb: U8, det: Detection, models: PassiveModels | None) -> float:
        model = getattr(models, name, None) if models is not None else None
        if model is None:
            raise ValueError(f"cue {name} needs its model")
        return float(model.score(rgb, det))

    return run


def _mfn_only(name: str) -> _Extractor:
    def run(rgb: U8, det: Detection, models: PassiveModels | None) -> float:
        return extract(rgb, det, [name], models)[name]

    return run


EXTRACTORS: dict[str, _Extractor] = {
    "hf64": lambda rgb, d, m: cues.high_frequency_ratio(_inner(rgb, d, 64)),
    "slope96": lambda rgb, d, m: cues.spectral_slope(_inner(rgb, d, 96)),
    "block": lambda rgb, d, m: cues.blockiness(cues.native_patch(rgb, cues.face_square(d.box))),
    "noise64": lambda rgb, d, m: cues.noise_level(_inner(rgb, d, 64)),
    "moire96": lambda rgb, d, m: cues.moire_peakiness(_inner(rgb, d, 96)),
    "human": _cnn("human"),
    "expo": _cnn("expo"),
    "sat_std": lambda rgb, d, m: cues.saturation_stats(_inner(rgb, d, 64))[1],
    "dr_lo": lambda rgb, d, m: cues.dynamic_range(_inner(rgb, d, 64))[0],
    "spec": lambda rgb, d, m: cues.specular_fraction(_inner(rgb, d, 64)),
    # Computed by `extract` (one pair run); listed so fusion files may name them.
    **{n: _mfn_only(n) for n in ("mfn", "mfn_v2", "mfn_v1se", "mfn_ctx")},
}


def extract(
    rgb: U8, detection: Detection, names: Sequence[str], models: PassiveModels | None
) -> dict[str, float]:
    """The named cues of one face (the MiniFASNet pair runs once for all its cues)."""
    out: dict[str, float] = {}
    if any(n in MFN_CUES for n in names):
        pair = models.mfn if models is not None else None
        if pair is None:
            raise ValueError("MiniFASNet cues need the MiniFASNet pair")
        result = pair.score(rgb, detection)
        out.update({n: float(MFN_CUES[n](result)) for n in names if n in MFN_CUES})
    out.update({n: float(EXTRACTORS[n](rgb, detection, models)) for n in names if n not in out})
    return out


@dataclass(frozen=True)
class FusionModel:
    """Sign-constrained logistic regression on standardised cues."""

    features: tuple[str, ...]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    weights: NDArray[np.float64]  # on standardised cues, already signed
    bias: float
    meta: Mapping[str, Any]
    digest: str  # sha256 of the JSON file the model came from ("" when built in memory)

    def attack_probability(self, values: Mapping[str, float]) -> float:
        x = np.array([values[n] for n in self.features], dtype=np.float64)
        z = float(((x - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def liveness_score(self, values: Mapping[str, float]) -> float:
        """1 − P(attack): the documented ``score``/``spoof_score`` (1 = surely live)."""
        return 1.0 - self.attack_probability(values)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "faceproof-liveness-fusion",
            "version": 1,
            "model": str(
                self.meta.get(
                    "model", "sign-constrained L2 logistic regression on standardised cues"
                )
            ),
            "features": list(self.features),
            "signs": [SIGNS[n] for n in self.features],
            "mean": [round(float(v), 8) for v in self.mean],
            "scale": [round(float(v), 8) for v in self.scale],
            "weights": [round(float(v), 8) for v in self.weights],
            "bias": round(self.bias, 8),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], digest: str = "") -> FusionModel:
        if data.get("format") != "faceproof-liveness-fusion" or data.get("version") != 1:
            raise ValueError("not a faceproof liveness fusion file (version 1)")
        feats = tuple(str(f) for f in data["features"])
        unknown = [f for f in feats if f not in EXTRACTORS]
        if unknown:
            raise ValueError(f"fusion uses unknown cues {unknown}")
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
        if any(a.shape != (len(feats),) for a in arrays) or (arrays[1] <= 0).any():
            raise ValueError("fusion parameters do not match its feature list")
        return cls(
            feats,
            arrays[0],
            arrays[1],
            arrays[2],
            float(data["bias"]),
            dict(data.get("meta", {})),
            digest,
        )


def load_fusion(path: Path | None = None) -> FusionModel:
    """The fitted fusion (the packaged file unless ``path`` is given)."""
    raw = Path(path).read_bytes() if path else _packaged(FUSION_FILE)
    return FusionModel.from_json(json.loads(raw), hashlib.sha256(raw).hexdigest())


def _packaged(name: str) -> bytes:
    return resources.files("faceproof").joinpath("data", name).read_bytes()


def fit_fusion(
    x: NDArray[np.float64],
    y: NDArray[np.bool_],
    features: Sequence[str],
    l2: float = 200.0,
    meta: Mapping[str, Any] | None = None,
) -> FusionModel:
    """Fit the sign-constrained logistic regression (classes weighted equally).

    ``l2`` is the ridge strength relative to the sample count; large values shrink the fit
    towards weights proportional to each cue's class separation, which is what transfers
    across sources in the dev data.
    """
    # lazy: scipy.optimize (~2 s) only when a fusion is fitted (training)
    from scipy.optimize import minimize

    features = tuple(features)
    signs = np.array([SIGNS[n] for n in features], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale * signs
    t = y.astype(np.float64)
    n_pos, n_neg = t.sum(), len(t) - t.sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError("both classes are needed to fit the fusion")
    sw = np.where(t == 1, 0.5 / n_pos, 0.5 / n_neg)
    reg = l2 / len(t)

    def loss(p: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        w, b = p[:-1], p[-1]
        s = z @ w + b
        value = float(np.sum(sw * (np.logaddexp(0.0, s) - t * s)) + 0.5 * reg * np.sum(w**2))
        g = sw * (1.0 / (1.0 + np.exp(-s)) - t)
        return value, np.concatenate([z.T @ g + reg * w, [g.sum()]])

    bounds = [(0.0, None)] * len(features) + [(None, None)]
    res = minimize(loss, np.zeros(len(features) + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    w = res.x[:-1] * signs
    return FusionModel(features, mean, scale, w, float(res.x[-1]), dict(meta or {}), "")
