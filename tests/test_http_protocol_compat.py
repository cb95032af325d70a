"""The guarded HTTP protocol leans on uvicorn internals: the installed uvicorn must have
them, and a uvicorn that lost one is detected (``faceproof serve`` then falls back to
uvicorn's own protocol with a warning instead of failing on the first request). The
behaviour itself is checked on a real socket in test_http_limits.py."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from faceproof.api.http_protocol import HOOKS, GuardedHttpToolsProtocol, incompatibility


def test_installed_uvicorn_has_what_the_guarded_protocol_uses() -> None:
    assert incompatibility() is None
    assert issubclass(GuardedHttpToolsProtocol, HttpToolsProtocol)
    for hook in HOOKS:  # every hook the subclass overrides exists upstream
        assert hook in GuardedHttpToolsProtocol.__dict__ or hook == "on_message_begin"


def test_a_changed_uvicorn_is_detected() -> None:
    class Renamed(HttpToolsProtocol):
        pass

    # Simulate an upstream rename of one parser callback.
    original: Any = HttpToolsProtocol.on_headers_complete
    try:
        del HttpToolsProtocol.on_headers_complete
        reason = incompatibility(Renamed)
    finally:
        HttpToolsProtocol.on_headers_complete = original  # type: ignore[method-assign]
    assert reason is not None and "on_headers_complete" in reason

    class Unrelated:
        __module__ = HttpToolsProtocol.__module__

    reason = incompatibility(Unrelated)
    assert reason is not None and "connection_made" in reason and "self.flow" in reason
