"""Strict parsing of Origin and Referer: anything a browser would not send is refused, never
normalised into an allowed name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faceproof.config import load_settings
from faceproof.license import (
    Deployment,
    Origin,
    OriginError,
    load_deployment,
    origin_allowed,
    parse_origin,
    referer_origin,
)


@pytest.fixture
def dep(tmp_path: Path) -> Deployment:
    lic = tmp_path / "lic_config.json"
    lic.write_text(json.dumps({"face": {"url": ["example.com", "bücher.example"]}}))
    return load_deployment(lic, load_settings(data_dir=tmp_path, allowed_origins="localhost"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com", Origin("https", "example.com", None)),
        ("http://localhost:4200", Origin("http", "localhost", 4200)),
        ("HTTPS://App.Example.COM", Origin("https", "app.example.com", None)),
        ("https://example.com:65535", Origin("https", "example.com", 65535)),
        ("http://127.0.0.1:8080", Origin("http", "127.0.0.1", 8080)),
        ("http://[::1]:8201", Origin("http", "::1", 8201)),
        ("http://[0:0:0:0:0:0:0:1]", Origin("http", "::1", None)),
        ("https://xn--bcher-kva.example", Origin("https", "xn--bcher-kva.example", None)),
    ],
)
def test_browser_origins_parse(value: str, expected: Origin) -> None:
    assert parse_origin(value) == expected


def test_serialization_round_trips() -> None:
    for value in ("https://example.com", "http://localhost:4200", "http://[::1]:8201"):
        assert parse_origin(value).serialized == value


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("https://evil.example@localhost", "user information"),
        ("https://user:pw@example.com", "user information"),
        ("https://@example.com", "user information"),
        ("https://localhost.", "trailing dot"),
        ("https://example.com.", "trailing dot"),
        ("https://example.com/", "path"),
        ("https://example.com/app", "path"),
        ("https://example.com?x=1", "path, query"),
        ("https://example.com#frag", "fragment"),
        ("https://example.com\\@evil.net", "user information"),
        ("ftp://example.com", "http(s)"),
        ("ws://example.com", "http(s)"),
        ("javascript://example.com", "http(s)"),
        ("example.com", "http(s)"),
        ("//example.com", "http(s)"),
        ("https://", "no host"),
        ("https://example.com:", "port"),
        ("https://example.com:0", "port"),
        ("https://example.com:65536", "port"),
        ("https://example.com:080", "port"),
        ("https://example.com:+80", "port"),
        ("https://example.com:8o", "port"),
        ("https://example.com:80:80", "port"),
        ("https://[::1", "IPv6"),
        ("https://[::1%25eth0]", "IPv6"),
        ("https://[example.com]", "IPv6"),
        ("https://exªmple.com", "characters"),  # UTS #46 maps ª to a
        ("https://exa\xadmple.com", "characters"),  # a soft hyphen would vanish
        ("https://ｅxample.com", "characters"),  # fullwidth e
        ("https://example．com", "characters"),  # fullwidth full stop
        ("https://xn--zz.example.com", "internationalised"),  # not valid punycode
        ("https://xn--a.com", "internationalised"),
        ("https://exa%6dple.com", "host name"),
        ("https://exa_mple.com", "host name"),
        ("https://-example.com", "host name"),
        ("https://example..com", "host name"),
        ("https://" + "a" * 64 + ".com", "host name"),
        ("http://0x7f.0.0.1", "IPv4"),
        ("http://127.1", "IPv4"),
        ("http://0177.0.0.1", "IPv4"),
        ("http://2130706433", "IPv4"),
        ("http://256.0.0.1", "IPv4"),
        ("https://example.com https://other.com", "characters"),
        ("https://exa\tmple.com", "characters"),
    ],
)
def test_non_browser_origins_are_refused(value: str, why: str) -> None:
    with pytest.raises(OriginError, match=r".*") as info:
        parse_origin(value)
    assert why in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://app.example.com/some/page?q=1", "app.example.com"),
        ("https://example.com", "example.com"),
        ("http://localhost:8201/", "localhost"),
        ("https://example.com?only=query", "example.com"),
    ],
)
def test_referer_reduces_to_its_origin(value: str, host: str) -> None:
    assert referer_origin(value).host == host


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example@example.com/page",
        "https://example.com./page",
        "https://example.com:99999/page",
        "https://exªmple.com/page",
        "ftp://example.com/file",
        "https://example.com/page#frag",
        "https://example.com/pa ge",
        "/relative/page",
    ],
)
def test_malformed_referers_are_refused(value: str) -> None:
    with pytest.raises(OriginError):
        referer_origin(value)


@pytest.mark.parametrize(
    ("origin", "referer", "allowed"),
    [
        ("https://example.com", None, True),
        ("https://evil.example@localhost", None, False),
        ("https://localhost.", None, False),
        ("https://example.com.", None, False),
        ("https://example.com/", None, False),
        ("https://exªmple.com", None, False),
        ("http://local\xadhost", None, False),
        ("https://xn--bcher-kva.example", None, True),
        ("https://bücher.example", None, False),  # browsers send punycode, never Unicode
        (None, "https://app.example.com/p?q=1", True),
        (None, "https://evil.example@example.com/", False),
        (None, "https://example.com./", False),
        ("https://example.com:0", "https://example.com/", False),  # a bad Origin is not skipped
    ],
)
def test_origin_allowed_uses_the_strict_parse(
    dep: Deployment, origin: str | None, referer: str | None, allowed: bool
) -> None:
    ok, reason = origin_allowed(origin, referer, dep, allow_no_origin=False)
    assert ok is allowed, reason
    if origin and not ok:
        assert origin not in reason  # never echo the caller's value
