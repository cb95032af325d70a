"""License tokens: compact JWS (Ed25519) issued by the operator, verified offline."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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

from faceproof.license.domains import host_matches, normalise_domain
from faceproof.license.keys import LicenseError, pad_base64

TOKEN_TYP = "faceproof-license+jwt"
#: Fully-specified RFC 9864 name first; "EdDSA" accepted from tools that predate it.
ALGORITHMS = ("Ed25519", "EdDSA")
LEEWAY_S = 60


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
        raw = base64.b64decode(pad_base64(text.replace("-", "+").replace("_", "/")), validate=True)
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
