"""Browser origin checks: strict ``Origin``/``Referer`` parsing against the allow-list."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

from faceproof.license.deployment import Deployment

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
