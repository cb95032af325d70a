"""``lic_config.json``: parse and verify the deployment's domains and optional license."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceproof.config import ConfigError, Settings
from faceproof.license.domains import LOOPBACK, host_matches, normalise_domain
from faceproof.license.keys import LicenseError, load_public_key
from faceproof.license.tokens import LicenseInfo, verify_token

OPEN = "OPEN"
EMBEDDED_SOURCE = "embedded default"


@dataclass(frozen=True)
class Deployment:
    """What start-up learned from ``lic_config.json`` and the settings."""

    domains: frozenset[str]
    license: LicenseInfo | None
    source: str
    #: The domains written in ``face.url`` (a subset of ``domains``), in file order.
    url_domains: tuple[str, ...] = field(default=())

    def allows_host(self, host: str) -> bool:
        return any(host_matches(host, d) for d in self.domains)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f'duplicate key "{k}"')
        out[k] = v
    return out


def _url_entries(url: object) -> list[str] | None:
    if isinstance(url, str):
        return [p for p in (s.strip() for s in url.split(",")) if p]
    if isinstance(url, list) and all(isinstance(u, str) for u in url):
        return [u.strip() for u in url if u.strip()]
    return None


def load_deployment(
    path: Path | None, settings: Settings, *, now: float | None = None
) -> Deployment:
    """Parse and verify ``lic_config.json`` (``None``: the embedded default, no file).

    The caller passes ``settings.server_config_path``. Every problem raises ConfigError
    with one line naming the file and the problem, so start-up fails legibly instead of the
    reference's bare ``nlohmann::detail::parse_error``.
    """
    try:
        extra = [normalise_domain(d) for d in settings.extra_origins]
    except ValueError as exc:
        raise ConfigError(f"FACEPROOF_ALLOWED_ORIGINS: an entry {exc}") from None
    if path is None:
        return Deployment(frozenset(extra), None, EMBEDDED_SOURCE)

    src = str(path)

    def fail(problem: str) -> ConfigError:
        return ConfigError(_one_line(f"{src}: {problem}"))

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise fail("not found (check SERVER_CONFIG_PATH)") from None
    except IsADirectoryError:
        raise fail("is a directory, expected the lic_config.json file") from None
    except PermissionError:
        raise fail("not readable (permission denied for this user)") from None
    except UnicodeDecodeError:
        raise fail("is not UTF-8 text") from None
    except OSError as exc:
        raise fail(f"not readable ({exc.strerror})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise fail(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise fail('top level must be a JSON object like {"face": {...}}')
    face = doc.get("face")
    if face is None:
        raise fail('missing the "face" object')
    if not isinstance(face, dict):
        raise fail('"face" must be a JSON object')
    if "url" not in face or face["url"] is None:
        raise fail('missing "face.url" (the domain(s) your web app is served from)')
    entries = _url_entries(face["url"])
    if entries is None:
        raise fail('"face.url" must be a string or a list of strings')
    if not entries:
        raise fail('"face.url" is empty')
    url_domains: list[str] = []
    for entry in entries:
        try:
            name = normalise_domain(entry)
        except ValueError as exc:
            raise fail(f'"face.url" value {entry[:80]!r} {exc}') from None
        if name not in url_domains:
            url_domains.append(name)

    info = _license(face.get("license"), settings, now, fail)
    domains = frozenset(url_domains) | frozenset(extra)
    if info is not None:
        for name in sorted(domains - LOOPBACK):
            if not info.covers(name):
                raise fail(f"domain {name!r} is not covered by the license token")
    return Deployment(domains, info, src, tuple(url_domains))


def _license(
    value: object,
    settings: Settings,
    now: float | None,
    fail: Callable[[str], ConfigError],
) -> LicenseInfo | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail('"face.license" must be a string (a token, or "OPEN")')
    token = value.strip()
    if not token or token.upper() == OPEN:
        return None
    if token.startswith("<"):
        raise fail('"face.license" still holds the template placeholder; use "OPEN"')
    if not settings.license_public_key:
        raise fail(
            '"face.license" holds a license token but FACEPROOF_LICENSE_PUBLIC_KEY is not set'
        )
    try:
        key = load_public_key(settings.license_public_key)
        return verify_token(token, key, now)
    except LicenseError as exc:
        msg = str(exc)
        problem = msg if msg.startswith(("license", "FACEPROOF")) else f'"face.license" {msg}'
        raise fail(problem) from None
