"""``lic_config.json``: the deployment's domains and its optional operator-signed license.

The file keeps the reference's shape (``{"face": {"url": ..., "license": ...}}``) so an
existing deployment directory works unchanged. faceproof is open source, so the license is
optional: ``OPEN`` (or empty/absent) runs unrestricted with ``url`` as the origin allow-list.
A real token is a compact JWS (Ed25519) signed by the *operator's* key, for operators who
hand deployments to third parties and want the allowed domains and expiry pinned. It is
verified offline at start-up; nothing phones home. See docs/license.md.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import idna
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import OKPKey

from faceproof.config import ConfigError, Settings

OPEN = "OPEN"
EMBEDDED_SOURCE = "embedded default"
TOKEN_TYP = "faceproof-license+jwt"
#: Fully-specified RFC 9864 name first; "EdDSA" accepted from tools that predate it.
ALGORITHMS = ("Ed25519", "EdDSA")
LEEWAY_S = 60
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class LicenseError(ValueError):
    """A license token or key problem; ``load_deployment`` prefixes the file name."""


@dataclass(frozen=True)
class LicenseInfo:
    """Verified claims of an operator-issued license token."""

    iss: str
    sub: str
    domains: frozenset[str]
    iat: int
    exp: int
    features: frozenset[str] = frozenset()

    def covers(self, domain: str) -> bool:
        return any(host_matches(domain, d) for d in self.domains)

    @property
    def expires(self) -> str:
        return datetime.fromtimestamp(self.exp, tz=UTC).isoformat().replace("+00:00", "Z")


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


# -- domains ---------------------------------------------------------------------------


def normalise_domain(value: str) -> str:
    """Canonical ASCII host for an operator-written domain; ValueError says why not.

    Accepts what operators paste: ``https://Example.com:8443/app`` -> ``example.com``;
    Unicode names are IDNA (UTS #46) encoded as browsers send them in ``Origin``.
    """
    text = value.strip()
    if not text:
        raise ValueError("is empty")
    if text.startswith("<"):
        raise ValueError("still holds the template placeholder")
    if text.startswith("*."):
        raise ValueError("has a wildcard; list the parent domain (subdomains are allowed)")
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError("is not a domain name or URL") from None
    if not host:
        raise ValueError("has no host name")
    return _canonical_host(host)


def _canonical_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise ValueError("is not a valid domain name") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_matches(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or a subdomain of it, compared on whole labels.

    Subdomain matching needs a dotted domain (``com`` or ``intranet`` match only
    themselves) and never applies to IP addresses.
    """
    if host == domain:
        return True
    if "." not in domain or _is_ip(domain) or _is_ip(host):
        return False
    return host.endswith("." + domain)


# -- origin check ----------------------------------------------------------------------

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_DECIMAL_OCTET = re.compile(r"0|[1-9][0-9]{0,2}")


@dataclass(frozen=True)
class Origin:
    """A browser origin as RFC 6454 serialises it: scheme, canonical host, explicit port."""

    scheme: str
    host: str
    port: int | None

    @property
    def serialized(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port is not None else "")


class OriginError(ValueError):
    """Why a header value is not an origin; names the problem, never the value."""


def parse_origin(value: str) -> Origin:
    """An ``Origin`` header value, parsed strictly; OriginError otherwise.

    Exactly ``scheme "://" host [":" port]`` with scheme http or https, as browsers send
    it: no userinfo, path, query or fragment (not even a lone ``/``), printable ASCII only.
    """
    text = value.strip()
    scheme, sep, authority = text.partition("://")
    if not sep:
        raise OriginError("is not an http(s) origin")
    return _parse_authority(scheme, authority)


def referer_origin(value: str) -> Origin:
    """The origin of a ``Referer`` URL, parsed as strictly as ``parse_origin``.

    The path and query are allowed and dropped; userinfo and fragments are refused
    (browsers strip both from ``Referer``, so their presence means a forged header).
    """
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise OriginError("is not an http(s) URL")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "#" in tail:
        raise OriginError("has a fragment")
    if not tail.isascii() or not tail.isprintable() or " " in tail:
        raise OriginError("has characters a browser never sends")
    return _parse_authority(scheme, authority)


def _parse_authority(scheme: str, authority: str) -> Origin:
    if scheme.lower() not in {"http", "https"}:
        raise OriginError("is not an http(s) origin")
    if not authority:
        raise OriginError("has no host")
    if not authority.isascii() or not authority.isprintable() or " " in authority:
        raise OriginError("has characters a browser never sends")
    if "@" in authority:
        raise OriginError("has user information")
    if any(c in authority for c in "/?#\\"):
        raise OriginError("has a path, query or fragment")
    host_text, port_text = authority, None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise OriginError("has a malformed IPv6 address")
        host_text, rest = authority[1:end], authority[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise OriginError("has a malformed host")
            port_text = rest[1:]
        try:
            if "%" in host_text:
                raise ValueError("zone ids never appear in an origin")
            host = ipaddress.IPv6Address(host_text).compressed
        except ValueError:
            raise OriginError("has a malformed IPv6 address") from None
    else:
        if ":" in authority:
            host_text, _, port_text = authority.partition(":")
        host = _strict_host(host_text)
    port = None
    if port_text is not None:
        if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
            raise OriginError("has an invalid port")
        port = int(port_text)
    return Origin(scheme.lower(), host, port)


def _strict_host(text: str) -> str:
    """A host name as browsers serialise it: ASCII letters, digits, hyphens, dots.

    Refused: a trailing dot (``localhost.`` is another origin), empty or over-long labels,
    anything UTS #46 would have to map (``ª`` becomes ``a``, a soft hyphen vanishes), an
    ``xn--`` label that is not valid punycode, and numeric forms other than a canonical
    dotted-quad IPv4 address (``0x7f.1`` or ``127.1`` are never sent by a browser).
    """
    host = text.lower()
    if not host or len(host) > 253:
        raise OriginError("has no valid host")
    labels = host.split(".")
    if labels[-1] == "":
        raise OriginError("has a trailing dot in the host")
    if not all(_LDH_LABEL.fullmatch(label) for label in labels):
        raise OriginError("has an invalid host name")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        if len(labels) != 4 or not all(_DECIMAL_OCTET.fullmatch(x) for x in labels):
            raise OriginError("has a malformed IPv4 address")
        try:
            return ipaddress.IPv4Address(host).compressed
        except ValueError:
            raise OriginError("has a malformed IPv4 address") from None
    for label in labels:
        if label.startswith("xn--"):
            try:
                unicode = idna.decode(label)
                if idna.encode(unicode).decode("ascii") != label:
                    raise ValueError
            except (idna.IDNAError, UnicodeError, ValueError):
                raise OriginError("has an invalid internationalised label") from None
    return host


def origin_host(value: str) -> str | None:
    """Canonical host of an ``Origin`` value, None when it is not a strict http(s) origin."""
    try:
        return parse_origin(value).host
    except OriginError:
        return None


def origin_allowed(
    headers_origin: str | None,
    headers_referer: str | None,
    deployment: Deployment,
    allow_no_origin: bool,
) -> tuple[bool, str]:
    """Whether a browser request comes from an allowed site, and a reason for the error.

    ``Origin`` wins; ``Referer`` is the fallback (some same-origin GETs omit ``Origin``).
    Both are parsed strictly (``parse_origin``, ``referer_origin``): anything a browser
    would not send is refused rather than normalised into an allowed name. The reason
    names headers, never the caller's value: it is returned to the client. An empty header
    counts as absent. This is a browser-side control (non-browser clients can send any
    header); it stops other web sites from using the server, nothing more.
    """
    origin = (headers_origin or "").strip()
    referer = (headers_referer or "").strip()
    try:
        if origin:
            if origin.lower() == "null":
                return False, "Origin 'null' (sandboxed or file page) is not allowed"
            header, host = "Origin", parse_origin(origin).host
        elif referer:
            header, host = "Referer", referer_origin(referer).host
        else:
            if allow_no_origin:
                return True, "no Origin or Referer header; allowed by configuration"
            return False, "Origin or Referer header required"
    except OriginError as exc:
        return False, f"{'Origin' if origin else 'Referer'} header {exc}"
    if deployment.allows_host(host):
        return True, f"{header} is in the allow-list"
    return False, f"{header} is not in this deployment's allow-list"


# -- keys and tokens -------------------------------------------------------------------


def generate_keypair() -> tuple[bytes, bytes]:
    """A new operator key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo PEM)."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, public_pem(key.public_key())


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The 32 raw bytes in base64: one line, easy to put in ``.env``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise LicenseError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LicenseError("the private key is not an Ed25519 key")
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """``FACEPROOF_LICENSE_PUBLIC_KEY``: PEM text, a PEM/DER file, or base64 raw/DER."""
    text = value.strip().replace("\\n", "\n")
    bad = LicenseError(
        "FACEPROOF_LICENSE_PUBLIC_KEY is not an Ed25519 public key "
        "(expected PEM, a key file, or base64 of the raw 32 bytes or DER)"
    )
    data: bytes
    if "-----BEGIN" in text:
        data = text.encode()
    elif "\n" not in text and len(text) < 4096 and Path(text).is_file():
        try:
            data = Path(text).read_bytes()
        except OSError:
            raise bad from None
    else:
        try:
            data = base64.b64decode(_pad(text), validate=True)
        except (binascii.Error, ValueError):
            raise bad from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key: object = serialization.load_pem_public_key(data)
        elif len(data) == 32:
            key = Ed25519PublicKey.from_public_bytes(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError):
        raise bad from None
    if not isinstance(key, Ed25519PublicKey):
        raise bad
    return key


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def issue_token(
    private_key: Ed25519PrivateKey,
    domains: Iterable[str],
    days: float,
    *,
    sub: str,
    iss: str = "faceproof",
    features: Iterable[str] = (),
    now: float | None = None,
) -> str:
    """A signed license for ``domains``, valid ``days`` from ``now``, base64-wrapped.

    The compact JWS is base64-encoded once more so the value looks like the reference's
    opaque base64 license and survives copy/paste into JSON unchanged.
    """
    names: set[str] = set()
    for d in domains:
        try:
            names.add(normalise_domain(d))
        except ValueError as exc:
            raise LicenseError(f"domain {d[:80]!r} {exc}") from None
    if not names:
        raise LicenseError("a license needs at least one domain")
    if days <= 0:
        raise LicenseError("days must be positive")
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": sub,
        "domains": sorted(names),
        "iat": iat,
        "exp": iat + int(days * 86400),
        "features": sorted(set(features)),
    }
    key = OKPKey.import_key(private_key)
    header = {"alg": ALGORITHMS[0], "typ": TOKEN_TYP}
    compact = jwt.encode(header, claims, key, algorithms=[ALGORITHMS[0]])
    return base64.b64encode(compact.encode("ascii")).decode("ascii")


def _unwrap(token: str) -> str:
    text = "".join(token.split())
    if text.count(".") == 2:
        return text
    not_ours = LicenseError(
        "is not a faceproof license token (set it to OPEN, or issue one with "
        "`faceproof license issue`; a license for another product cannot be used)"
    )
    try:
        raw = base64.b64decode(_pad(text.replace("-", "+").replace("_", "/")), validate=True)
        compact = raw.decode("ascii")
    except (binascii.Error, ValueError):
        raise not_ours from None
    if compact.count(".") != 2:
        raise not_ours
    return compact


def verify_token(token: str, public_key: Ed25519PublicKey, now: float | None = None) -> LicenseInfo:
    """Check signature, type and validity period; LicenseError says what is wrong."""
    compact = _unwrap(token)
    key = OKPKey.import_key(public_key)
    try:
        decoded = jwt.decode(compact, key, algorithms=list(ALGORITHMS))
    except BadSignatureError:
        raise LicenseError("license signature is invalid (tampered, or another key)") from None
    except (JoseError, ValueError):
        raise LicenseError("license token is malformed") from None
    if decoded.header.get("typ") != TOKEN_TYP:
        raise LicenseError(f"license token type is not {TOKEN_TYP}")
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time() if now is None else now),
        leeway=LEEWAY_S,
        iss={"essential": True},
        sub={"essential": True},
        iat={"essential": True},
        exp={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        exp = datetime.fromtimestamp(int(claims["exp"]), tz=UTC).isoformat()
        raise LicenseError(f"license expired on {exp.replace('+00:00', 'Z')}") from None
    except MissingClaimError as exc:
        raise LicenseError(f"license token lacks a claim ({exc.description})") from None
    except (InvalidClaimError, InvalidTokenError) as exc:
        raise LicenseError(f"license token is not valid ({exc.description})") from None
    domains = claims.get("domains")
    features = claims.get("features", [])
    if not isinstance(domains, list) or not domains or not all(isinstance(d, str) for d in domains):
        raise LicenseError("license token 'domains' must be a non-empty list of names")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise LicenseError("license token 'features' must be a list of names")
    for name in ("iss", "sub"):
        if not isinstance(claims.get(name), str):
            raise LicenseError(f"license token '{name}' must be a string")
    try:
        names = frozenset(normalise_domain(d) for d in domains)
    except ValueError as exc:
        raise LicenseError(f"license token has a domain that {exc}") from None
    return LicenseInfo(
        iss=claims["iss"],
        sub=claims["sub"],
        domains=names,
        iat=int(claims["iat"]),
        exp=int(claims["exp"]),
        features=frozenset(features),
    )


# -- lic_config.json -------------------------------------------------------------------


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
