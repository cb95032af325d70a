"""The additive ``liveness`` block of SDK-capture answers (challenge protocol §4).

It tells the integrator's backend *why* a capture was accepted or refused: the passive
score, the decision, every failed check by its stable name, and the challenge's
measurements. Integrators must not forward the reasons to end users (they would teach an
attacker which check to work on); show the user the SDK's localised retry message instead.
``FACEPROOF_LIVENESS_DETAILS=false`` leaves the block out of every answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faceproof.liveness.service import LivenessResult


def decision(result: LivenessResult) -> str:
    named = getattr(result, "decision", None)
    if isinstance(named, str):
        return named
    if result.insecure:
        return "insecure"
    return "spoof" if result.is_spoof else "live"


def liveness_block(result: LivenessResult) -> dict[str, Any]:
    """``{passive_score, decision, reasons, challenge, device_flags}`` for one capture
    (attributes read leniently so that test doubles of the service can be used)."""
    passive = getattr(result, "passive_score", None)
    challenge = getattr(result, "challenge", None)
    return {
        "passive_score": None if passive is None else round(float(passive), 7),
        "decision": decision(result),
        "reasons": list(getattr(result, "reasons", [])),
        "challenge": None if challenge is None else challenge.public(),
        "device_flags": list(getattr(result, "device_flags", [])),
    }


def answer_extra(result: LivenessResult, shown: bool) -> dict[str, Any]:
    """The top-level members to add to an answer: ``{"liveness": …}`` or nothing."""
    return {"liveness": liveness_block(result)} if shown else {}


# What a user can do about a capture that could not be judged (decision "retry"): the
# FEEDBACK_RETRY description. Conditions only; a spoof keeps the generic description.
RETRY_HINTS = {
    "light_too_weak": "Too little light from the screen reached the face: move out of bright "
    "light or sunlight, or closer to the screen, and try again",
    "face_not_in_oval": "The face was not inside the oval shown: follow the oval and try again",
    "no_face_in_frame": "The face was not visible in every picture: keep it in view and try again",
}


def retry_description(result: LivenessResult) -> str | None:
    """The FEEDBACK_RETRY description for a "retry" decision; None (the default) otherwise."""
    if decision(result) != "retry":
        return None
    reasons = list(getattr(result, "reasons", []))
    return next((RETRY_HINTS[r] for r in reasons if r in RETRY_HINTS), None)
