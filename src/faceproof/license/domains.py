"""Operator-written domain names: canonical form and subdomain matching."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import idna

#: Hosts a browser on the server's own machine uses; never need a license.
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


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
