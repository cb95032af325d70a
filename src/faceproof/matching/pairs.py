"""LFW-format pairs files and the fold split used by ``faceproof eval verify``.

Format (LFW ``pairs.txt``): an optional header ``<folds> <n>``, then per fold ``n``
same-person lines ``name idx1 idx2`` followed by ``n`` different-person lines
``name1 idx1 name2 idx2`` (tab-separated); image ``idx`` of ``name`` is
``<root>/<name>/<name>_<idx:04d>.jpg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Pair:
    a: str  # path relative to the root
    b: str
    same: bool
    fold: int  # fold index from the file's header, 0 when the file has none


def lfw_image(name: str, idx: int) -> str:
    return f"{name}/{name}_{idx:04d}.jpg"


def parse_pairs(text: str) -> list[Pair]:
    """Parse an LFW pairs file; raises ValueError naming the first bad line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("empty pairs file")
    per_fold = 0
    head = lines[0].split()
    if len(head) <= 2 and all(h.isdigit() for h in head):
        per_fold = int(head[-1]) if len(head) == 2 else 0
        lines = lines[1:]
    pairs: list[Pair] = []
    for n, line in enumerate(lines):
        parts = line.split("\t") if "\t" in line else line.split()
        fold = n // (2 * per_fold) if per_fold else 0
        try:
            if len(parts) == 3:
                pairs.append(
                    Pair(
                        lfw_image(parts[0], int(parts[1])),
                        lfw_image(parts[0], int(parts[2])),
                        True,
                        fold,
                    )
                )
            elif len(parts) == 4:
                pairs.append(
                    Pair(
                        lfw_image(parts[0], int(parts[1])),
                        lfw_image(parts[2], int(parts[3])),
                        False,
                        fold,
                    )
                )
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"pairs line {n + 1}: expected 3 or 4 fields") from None
    return pairs


def read_pairs(path: Path) -> list[Pair]:
    return parse_pairs(path.read_text(encoding="utf-8"))


def stratified_folds(same: NDArray[np.bool_], k: int) -> NDArray[np.int64]:
    """Fold index per pair: same and different pairs each cut into ``k`` contiguous blocks.

    Contiguous blocks in file order keep each block inside one of the file's identity-disjoint
    folds whenever ``k`` is a multiple of the file's fold count (10 over LFW's 5 dev folds
    halves each), and every fold gets both classes so its accuracy is meaningful.
    """
    if k < 2:
        raise ValueError("need at least 2 folds")
    folds = np.empty(len(same), dtype=np.int64)
    for cls in (True, False):
        idx = np.flatnonzero(same == cls)
        if len(idx) < k:
            raise ValueError(f"fewer than {k} {'same' if cls else 'different'} pairs")
        for f, block in enumerate(np.array_split(idx, k)):
            folds[block] = f
    return folds
