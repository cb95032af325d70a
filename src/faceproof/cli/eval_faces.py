"""``faceproof eval faces``: face found / not found on labelled folders, and what the animal
check (``pipeline/face_check.py``) changes.

Every image is searched in both detection modes (selfie and document), as the endpoints do.
For folders of face images it counts images where no face is found (misses) and uncertain
human detections the animal check would drop (false vetoes), with the highest animal score
any of them got; for folders without human faces it counts images where a face is reported,
before and after the check, with the lowest animal score among the dropped ones. The margin
between those two scores is what ``ANIMAL_MIN`` relies on.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import click

from faceproof.cli.options import models_dir, models_option
from faceproof.datasets import image_files
from faceproof.errors import ApiError
from faceproof.face.record import Detection
from faceproof.models.blazeface import FaceDetectorSet
from faceproof.models.centernet import ANIMALS, CenterNetObjects
from faceproof.pipeline.decode import decode_image
from faceproof.pipeline.face_check import check_faces


def _files(folders: tuple[Path, ...], limit: int | None) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        found = image_files(folder)
        out.extend(found[:limit] if limit else found)
    return out


def _scan(paths: list[Path], models: Path) -> list[dict[str, Any]]:
    detectors = FaceDetectorSet(models)
    objects = CenterNetObjects(models)
    rows = []
    for i, path in enumerate(paths, 1):
        try:  # decoded as a request is (EXIF orientation, grey and RGBA handled)
            rgb = decode_image(path.read_bytes(), max_pixels=60_000_000).rgb
        except ApiError:
            click.echo(f"  skipped undecodable {path}", err=True)
            continue
        row: dict[str, Any] = {"file": str(path), "modes": {}}
        seen: dict[str, list[Detection]] = {}  # each face model runs once per image
        for mode in ("selfie", "document"):
            faces = detectors.detect(rgb, mode, seen)
            verdicts = check_faces(
                rgb, faces, objects, ANIMALS, corroborate=partial(detectors.detect_all, rgb, seen)
            )
            row["modes"][mode] = {
                "faces": len(faces),
                "kept": len(faces) - sum(v.is_animal for v in verdicts),
                "checked": [
                    {"score": round(v.detection.score, 3), "animal": round(v.animal, 3),
                     "person": round(v.person, 3), "dropped": v.is_animal}
                    for v in verdicts
                ],
            }  # fmt: skip
        rows.append(row)
        if i % 200 == 0:
            click.echo(f"  {i}/{len(paths)} images", err=True)
    return rows


def _summary(rows: list[dict[str, Any]], faces: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"images": len(rows)}
    for mode in ("selfie", "document"):
        m = [(r["file"], r["modes"][mode]) for r in rows]
        checked = [(f, c) for f, x in m for c in x["checked"]]
        dropped = [(f, c) for f, c in checked if c["dropped"]]
        kept = [(f, c) for f, c in checked if not c["dropped"]]
        s: dict[str, Any] = {
            "with_face_before_check": sum(x["faces"] > 0 for _, x in m),
            "with_face_after_check": sum(x["kept"] > 0 for _, x in m),
            "uncertain_detections": len(checked),
            "dropped_detections": len(dropped),
        }
        if faces:
            worst = max(checked, key=lambda fc: fc[1]["animal"], default=None)
            s["highest_animal_score_on_a_face"] = worst and {"file": worst[0], **worst[1]}
        else:
            low = min(dropped, key=lambda fc: fc[1]["animal"], default=None)
            s["lowest_animal_score_dropped"] = low and {"file": low[0], **low[1]}
            s["kept_uncertain"] = [{"file": f, **c} for f, c in kept]
        out[mode] = s
    return out


@click.command("faces")
@click.option(
    "--faces",
    "face_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of images that each show at least one human face (repeatable, recursive).",
)
@click.option(
    "--no-faces",
    "empty_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of images without a human face (repeatable, recursive).",
)
@click.option("--limit", type=int, default=None, help="At most this many images per folder.")
@click.option("--report", type=click.Path(path_type=Path), default=Path("faces-report.json"))
@models_option()
def faces(
    face_dirs: tuple[Path, ...],
    empty_dirs: tuple[Path, ...],
    limit: int | None,
    report: Path,
    models: Path | None,
) -> None:
    """Face detection with the animal check: misses, false vetoes, false faces."""
    store = models_dir(models)
    result: dict[str, Any] = {}
    for label, folders, is_face in (("faces", face_dirs, True), ("no_faces", empty_dirs, False)):
        if not folders:
            continue
        rows = _scan(_files(folders, limit), store)
        result[label] = _summary(rows, is_face)
        click.echo(f"\n== {label}: {len(rows)} images")
        for mode in ("selfie", "document"):
            s = result[label][mode]
            click.echo(
                f"{mode:>9}: face found {s['with_face_before_check']} -> "
                f"{s['with_face_after_check']} after the check; uncertain detections "
                f"{s['uncertain_detections']}, dropped {s['dropped_detections']}"
            )
            extreme = s.get("highest_animal_score_on_a_face", s.get("lowest_animal_score_dropped"))
            if extreme:
                key = "highest animal score on a face" if is_face else "lowest animal score dropped"
                click.echo(f"{'':>11}{key}: {extreme['animal']} ({Path(extreme['file']).name})")
    report.write_text(json.dumps(result, indent=1))
    click.echo(f"wrote {report}")
