"""Second opinion on the face detections BlazeFace is unsure of: is it an animal's face?

BlazeFace was trained on human faces only. A frontal dog face gets 0.61 from the
short-range model, inside the 0.52–0.70 band of masked human faces, and the other signals at
hand fail the same way: the full-range model and the face mesh's presence score reject the
dog but also a tenth of the masked faces, and the person segmenter calls the dog a person. A
general object detector trained on COCO (:mod:`faceproof.models.centernet`) tells a person
from a dog, so a detection scoring under ``CONFIDENT`` is dropped when an animal box covering
its centre scores at least ``ANIMAL_MIN`` and above every person box covering it.

A detection counts as uncertain when it scores under ``CONFIDENT`` and neither BlazeFace
model gives the same face ``CONFIDENT`` or more (the full-range model under-scores tight
portraits that the short-range one is sure of, and the reverse for small faces).

Thresholds, from ``faceproof eval faces`` (docs/models.md): on the face images of
``../shared/data`` (LFW, masked, group, liveness sets) no uncertain human face gets an animal
score above 0.37 (one LFW portrait is called a dog at 0.37, a person at 0.23); the two dog
faces in ``misc/no_face`` score 0.54 and 0.68. ``ANIMAL_MIN`` sits between. Confident
detections (the large majority of captures) never pay for the object model, and neither do
doubtful ones that cannot change the answer (:func:`doubt_matters`): a doubtful face in the
background of a confidently detected main face, too small to count as a second face or
beside another confident second face, leaves the main face and the multiple-faces flag as
they are whether it is an animal or not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from faceproof.face.record import U8, Detection
from faceproof.models.blazeface import most_prominent, overlaps

CONFIDENT = 0.75
ANIMAL_MIN = 0.45


class ObjectBoxLike(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...

    def contains(self, x: float, y: float) -> bool: ...


class ObjectDetector(Protocol):
    def detect(self, rgb: U8) -> Sequence[ObjectBoxLike]: ...


@dataclass(frozen=True)
class Verdict:
    detection: Detection
    animal: float  # best animal score covering the face centre (0 when not checked)
    person: float  # best person score covering it

    @property
    def is_animal(self) -> bool:
        return self.animal >= ANIMAL_MIN and self.animal > self.person


def check_faces(
    rgb: U8,
    faces: Sequence[Detection],
    objects: ObjectDetector,
    animals: frozenset[str],
    corroborate: Callable[[], Sequence[Detection]] | None = None,
) -> list[Verdict]:
    """A verdict per uncertain face; ``corroborate`` (both face models' detections) and the
    object model run at most once per image, and only when a face is doubtful."""
    unsure = [d for d in faces if d.score < CONFIDENT]
    if unsure and corroborate is not None:
        sure = [d for d in corroborate() if d.score >= CONFIDENT]
        unsure = [d for d in unsure if not overlaps(d, sure)]
    if not unsure:
        return []
    found = objects.detect(rgb)
    verdicts = []
    for det in unsure:
        cx, cy = det.center
        covering = [o for o in found if o.contains(cx, cy)]
        animal = max((o.score for o in covering if o.label in animals), default=0.0)
        person = max((o.score for o in covering if o.label == "person"), default=0.0)
        verdicts.append(Verdict(det, animal, person))
    return verdicts


def doubt_matters(faces: Sequence[Detection], image_size: tuple[int, int]) -> bool:
    """Whether dropping some of the doubtful faces (score under ``CONFIDENT``) could change
    what callers use of a detection: the main face or the multiple-faces flag of
    :func:`~faceproof.models.blazeface.most_prominent` (``image_size`` = (width, height)).

    Dropping only ever removes doubtful faces. When the main face is confident it stays the
    main face, and the flag is monotone in the set of faces, so if it is the same with every
    doubtful face and with none, it is the same for any subset: the check cannot matter.
    """
    main, multiple = most_prominent(faces, image_size)
    if main is None:
        return False
    if main.score < CONFIDENT:
        return True
    sure_main, sure_multiple = most_prominent(
        [d for d in faces if d.score >= CONFIDENT], image_size
    )
    return sure_main is not main or sure_multiple != multiple


def drop_animal_faces(
    rgb: U8,
    faces: Sequence[Detection],
    objects: ObjectDetector,
    animals: frozenset[str],
    corroborate: Callable[[], Sequence[Detection]] | None = None,
) -> list[Detection]:
    verdicts = check_faces(rgb, faces, objects, animals, corroborate)
    vetoed = {id(v.detection) for v in verdicts if v.is_animal}
    return [d for d in faces if id(d) not in vetoed]
