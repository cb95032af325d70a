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
