"""Where model runtimes report how long one invocation took (for ``/metrics``).

The runtimes (:mod:`faceproof.models.runtime`, :mod:`faceproof.liveness.minifasnet`) must not
depend on the API layer, so they call :func:`record`; the server's metrics module installs
the ``observer`` (a labels function of a histogram) when it starts. Unset, recording costs
one attribute read.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Child(Protocol):
    def observe(self, amount: float) -> Any: ...


class _Observer(Protocol):
    def __call__(self, model: str) -> _Child: ...


observer: _Observer | None = None
_children: dict[str, _Child] = {}


def record(model: str, seconds: float) -> None:
    """One invocation of ``model`` took ``seconds``."""
    if observer is None:
        return
    child = _children.get(model)
    if child is None:
        child = _children[model] = observer(model)
    child.observe(seconds)
