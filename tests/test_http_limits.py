"""Connection limits of the server protocol (faceproof.api.http_protocol) on a real socket.

uvicorn runs in a thread with a trivial ASGI app and the limits set low, so each case takes
a few seconds: an idle socket, a slow request line, a slow body and oversized headers are
all cut off within the stated time, while a slow *server* (the app busy) is never timed out.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from faceproof.api import http_protocol
from faceproof.api.http_protocol import GuardedHttpToolsProtocol

KEEP_ALIVE, HEADER, BODY = 1.0, 2.0, 2.0
SLACK = 1.5  # the protocol checks twice a second; a busy CI machine adds latency


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    if scope["path"] == "/slow":
        await asyncio.sleep(KEEP_ALIVE + HEADER + 1)  # longer than every client timeout
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    saved = {a: getattr(GuardedHttpToolsProtocol, a) for a in http_protocol.ENV}
    http_protocol.configure(KEEP_ALIVE, HEADER, BODY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free,
        http=GuardedHttpToolsProtocol,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield free
    server.should_exit = True
    thread.join(timeout=10)
    http_protocol.configure(*(saved[a] for a in http_protocol.ENV))


def _closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed ``sock`` (reading whatever it sent), at most limit."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        return float("inf"), data
    return time.monotonic() - t0, data


def test_idle_connection_that_sends_nothing_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        took, data = _closed_after(s, KEEP_ALIVE + 10)
    assert took <= KEEP_ALIVE + SLACK, took
    assert data == b""


def test_slow_request_line_and_headers_are_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        t0 = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\n")
        for _ in range(int((HEADER + SLACK) / 0.4) + 5):  # one header line at a time
            try:
                s.sendall(b"X-Drip: 1\r\n")
            except OSError:
                break
            time.sleep(0.4)
        took, data = _closed_after(s, 10)
        elapsed = time.monotonic() - t0
    assert took != float("inf")
    assert elapsed <= HEADER + SLACK + 1, elapsed
    assert data.startswith(b"HTTP/1.1 408")


def test_slow_body_is_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        t0 = time.monotonic()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(int((BODY + SLACK) / 0.4) + 5):
            try:
                s.sendall(b"x")
            except OSError:
                break
            time.sleep(0.4)
        took, _ = _closed_after(s, 10)
        elapsed = time.monotonic() - t0
    assert took != float("inf")
    assert elapsed <= BODY + SLACK + 1, elapsed


def test_oversized_headers_are_refused_431(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        s.sendall(b"X-Big: " + b"a" * (GuardedHttpToolsProtocol.max_header_bytes + 10) + b"\r\n")
        took, data = _closed_after(s, 10)
    assert took != float("inf")
    assert data.startswith(b"HTTP/1.1 431")


def test_keep_alive_requests_and_a_slow_app_are_not_timed_out(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(30)
        for path in (b"/", b"/slow", b"/"):  # /slow: the app outlasts every client timeout
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"ok"):
                chunk = s.recv(4096)
                assert chunk, f"closed while the app worked on {path!r}"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
            time.sleep(KEEP_ALIVE / 2)  # idle between requests, under the keep-alive limit
        took, _ = _closed_after(s, KEEP_ALIVE + 10)  # then idle: closed
    assert took <= KEEP_ALIVE + SLACK, took
