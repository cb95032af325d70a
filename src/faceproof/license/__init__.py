"""``lic_config.json``: the deployment's domains and its optional operator-signed license.

The file keeps the reference's shape (``{"face": {"url": ..., "license": ...}}``) so an
existing deployment directory works unchanged. faceproof is open source, so the license is
optional: ``OPEN`` (or empty/absent) runs unrestricted with ``url`` as the origin allow-list.
A real token is a compact JWS (Ed25519) signed by the *operator's* key, for operators who
hand deployments to third parties and want the allowed domains and expiry pinned. It is
verified offline at start-up; nothing phones home. See docs/license.md.

Modules, lowest first: ``domains`` (canonical names, subdomain matching), ``keys``
(operator key pair), ``tokens`` (issue/verify), ``deployment`` (the file and settings),
``origin`` (the per-request ``Origin``/``Referer`` check).
"""

from faceproof.license.deployment import EMBEDDED_SOURCE, OPEN, Deployment, load_deployment
from faceproof.license.domains import LOOPBACK, host_matches, normalise_domain
from faceproof.license.keys import (
    LicenseError,
    generate_keypair,
    load_private_key,
    load_public_key,
    public_key_b64,
    public_pem,
)
from faceproof.license.origin import (
    Origin,
    OriginError,
    origin_allowed,
    parse_origin,
    referer_origin,
)
from faceproof.license.tokens import (
    ALGORITHMS,
    LEEWAY_S,
    TOKEN_TYP,
    LicenseInfo,
    issue_token,
    verify_token,
)

__all__ = [
    "ALGORITHMS",
    "EMBEDDED_SOURCE",
    "LEEWAY_S",
    "LOOPBACK",
    "OPEN",
    "TOKEN_TYP",
    "Deployment",
    "LicenseError",
    "LicenseInfo",
    "Origin",
    "OriginError",
    "generate_keypair",
    "host_matches",
    "issue_token",
    "load_deployment",
    "load_private_key",
    "load_public_key",
    "normalise_domain",
    "origin_allowed",
    "parse_origin",
    "public_key_b64",
    "public_pem",
    "referer_origin",
    "verify_token",
]
