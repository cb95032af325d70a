"""The liveness attempt a request is serving, for limits that need what only the envelope says.

The abuse limits (:mod:`faceproof.api.abuse`) key failed attempts on the client address, the
origin and the capturing device; the device is known only once the capture envelope is open,
deep below the API layer. The API sets :data:`current` for the request (threads that run the
handler inherit it), and the code that opens an envelope calls :func:`check_device`, which
raises the documented 429 when that device is over its limit. Outside a request it does
nothing.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol


class AttemptGuard(Protocol):
    def check_device(self, device: Any) -> None:
        """Raises an ApiError (429) when ``device`` (a ``DeviceInfo``) is over its limit."""
        ...


current: ContextVar[AttemptGuard | None] = ContextVar("faceproof_attempt", default=None)


def check_device(device: Any) -> None:
    guard = current.get()
    if guard is not None:
        guard.check_device(device)
