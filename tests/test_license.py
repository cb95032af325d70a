"""lic_config.json parsing, the origin allow-list, and operator-signed license tokens."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from faceproof.cli.license import PRIVATE_NAME, PUBLIC_NAME, license_group
from faceproof.config import ConfigError, Settings
from faceproof.license import (
    Deployment,
    LicenseError,
    generate_keypair,
    issue_token,
    load_deployment,
    load_private_key,
    load_public_key,
    normalise_domain,
    origin_allowed,
    public_key_b64,
    verify_token,
)

PRIV_PEM, PUB_PEM = generate_keypair()
PRIV = load_private_key(PRIV_PEM)
PUB_B64 = public_key_b64(PRIV.public_key())


def settings(**kw: object) -> Settings:
    kw.setdefault("allowed_origins", "localhost,127.0.0.1")
    kw.setdefault("license_public_key", None)
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg, arg-type]


def write(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "lic_config.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def face(url: object = "example.com", **extra: object) -> dict[str, object]:
    return {"face": {"url": url, **extra}}


# -- valid files -----------------------------------------------------------------------


def test_reference_example_file(tmp_path: Path) -> None:
    text = (
        '{\n  "face" : {\n    "url" : "d0bd-2-138-120-131.ngrok-free.app",\n'
        '    "license": ""\n  }\n}'
    )
    dep = load_deployment(write(tmp_path, text), settings())
    assert dep.domains == {"d0bd-2-138-120-131.ngrok-free.app", "localhost", "127.0.0.1"}
    assert dep.license is None
    assert dep.source == str(tmp_path / "lic_config.json")
    assert dep.url_domains == ("d0bd-2-138-120-131.ngrok-free.app",)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (["a.example.com", "B.example.org"], {"a.example.com", "b.example.org"}),
        ("a.example.com, b.example.org", {"a.example.com", "b.example.org"}),
        ("https://App.Example.com:8443/login?x=1", {"app.example.com"}),
        ("bücher.example", {"xn--bcher-kva.example"}),
        ("example.com.", {"example.com"}),
    ],
)
def test_url_forms(tmp_path: Path, url: object, expected: set[str]) -> None:
    dep = load_deployment(write(tmp_path, face(url, license="OPEN")), settings())
    assert set(dep.url_domains) == expected
    assert dep.domains == expected | {"localhost", "127.0.0.1"}


def test_embedded_default_and_extra_origins(tmp_path: Path) -> None:
    dep = load_deployment(None, settings())
    assert dep.domains == {"localhost", "127.0.0.1"} and dep.source == "embedded default"
    dep = load_deployment(write(tmp_path, face()), settings(allowed_origins="Staging.Example.net"))
    assert dep.domains == {"example.com", "staging.example.net"}
    with pytest.raises(ConfigError, match="FACEPROOF_ALLOWED_ORIGINS"):
        load_deployment(None, settings(allowed_origins="not a domain"))


# -- malformed files: one line, naming the file and the problem ------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"face": {"url": "example.com",}}', "invalid JSON at line 1 column"),
        ('{\n  "face": {\n    "url": "example.com"\n    "license": ""\n}}', "line 4 column 5"),
        ("", "invalid JSON at line 1 column 1"),
        ("[1, 2]", "top level must be a JSON object"),
        ('{"fingerprint": {}}', 'missing the "face" object'),
        ('{"face": "example.com"}', '"face" must be a JSON object'),
        ('{"face": {"license": "OPEN"}}', 'missing "face.url"'),
        ('{"face": {"url": ""}}', '"face.url" is empty'),
        ('{"face": {"url": []}}', '"face.url" is empty'),
        ('{"face": {"url": " , "}}', '"face.url" is empty'),
        ('{"face": {"url": 42}}', "must be a string or a list of strings"),
        ('{"face": {"url": "not a domain!"}}', "is not a valid domain name"),
        ('{"face": {"url": "example.com:notaport"}}', "is not a domain name or URL"),
        ('{"face": {"url": "<REPLACE_BY_YOUR_VALID_LICENSE_DOMAIN>"}}', "placeholder"),
        ('{"face": {"url": "*.example.com"}}', "wildcard"),
        ('{"face": {"url": "a.com", "url": "b.com"}}', 'duplicate key "url"'),
        ('{"face": {"url": "a.com", "license": 7}}', '"face.license" must be a string'),
        ('{"face": {"url": "a.com", "license": "QUVTAU5Wc="}}', "not a faceproof license"),
        ('{"face": {"url": "a.com", "license": "%%%"}}', "not a faceproof license"),
        ('{"face": {"url": "a.com", "license": "<REPLACE_BY_X>"}}', "placeholder"),
    ],
)
def test_malformed_file(tmp_path: Path, content: str, problem: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as exc:
        load_deployment(path, settings(license_public_key=PUB_B64))
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert problem in msg


def test_missing_directory_unreadable_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json: not found \(check SERVER_CONFIG_PATH\)"):
        load_deployment(tmp_path / "nope.json", settings())
    with pytest.raises(ConfigError, match="is a directory"):
        load_deployment(tmp_path, settings())
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"face": {"url": "caf\xe9.com"}}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_deployment(bad, settings())
    if os.geteuid() != 0:  # root reads anything
        locked = write(tmp_path, face())
        locked.chmod(0)
        try:
            with pytest.raises(ConfigError, match="not readable"):
                load_deployment(locked, settings())
        finally:
            locked.chmod(0o600)


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(face()).encode())
    assert "example.com" in load_deployment(p, settings()).domains


# -- origin allow-list -----------------------------------------------------------------


@pytest.fixture
def dep(tmp_path: Path) -> Deployment:
    doc = face(["example.com", "intranet", "10.0.0.5", "bücher.example"])
    return load_deployment(write(tmp_path, doc), settings())


@pytest.mark.parametrize(
    ("origin", "referer", "allowed"),
    [
        ("https://example.com", None, True),
        ("https://EXAMPLE.com:8443", None, True),
        ("https://app.example.com", None, True),  # subdomain
        ("https://a.b.example.com", None, True),
        ("https://evil-example.com", None, False),  # look-alike
        ("https://example.com.evil.net", None, False),
        ("https://notexample.com", None, False),
        ("https://xn--bcher-kva.example", None, True),  # browsers send punycode
        ("http://localhost:4200", None, True),
        ("http://intranet", None, True),
        ("http://x.intranet", None, False),  # single-label: exact only
        ("http://10.0.0.5:8080", None, True),
        ("http://1.10.0.0.5", None, False),
        ("null", "https://example.com/page", False),  # null wins over Referer
        ("NULL", None, False),
        ("chrome-extension://abcdef", None, False),
        ("file:///etc/passwd", None, False),
        ("https://", None, False),
        (None, "https://app.example.com/some/page?q=1", True),  # Referer fallback
        (None, "https://evil.com/?ref=https://example.com", False),
        ("https://evil.com", "https://example.com/", False),  # Origin wins
    ],
)
def test_origin_decisions(
    dep: Deployment, origin: str | None, referer: str | None, allowed: bool
) -> None:
    ok, reason = origin_allowed(origin, referer, dep, allow_no_origin=False)
    assert ok is allowed, reason
    assert reason
    if origin and origin.startswith("https://evil"):
        assert "evil" not in reason  # never echo the caller's value


def test_no_origin_headers_follow_setting(dep: Deployment) -> None:
    assert origin_allowed(None, None, dep, allow_no_origin=True)[0] is True
    ok, reason = origin_allowed(None, None, dep, allow_no_origin=False)
    assert ok is False and "required" in reason
    assert origin_allowed("", "  ", dep, allow_no_origin=False)[0] is False


def test_normalise_domain_rejects_garbage() -> None:
    for bad in ("", "   ", "exa mple.com", "-bad-.com", "a" * 64 + ".com", "http://"):
        with pytest.raises(ValueError):
            normalise_domain(bad)
    assert normalise_domain("[::1]:8080") == "::1"


# -- license tokens --------------------------------------------------------------------


def lic_file(tmp_path: Path, token: str, url: object = "example.com") -> Path:
    return write(tmp_path, face(url, license=token))


def test_token_round_trip(tmp_path: Path) -> None:
    token = issue_token(PRIV, ["example.com", "other.org"], 30, sub="acme", features=["icao"])
    info = verify_token(token, PRIV.public_key())
    assert info.domains == {"example.com", "other.org"}
    assert info.sub == "acme" and info.features == {"icao"}
    assert info.exp - info.iat == 30 * 86400
    # All accepted public-key encodings verify the same token through lic_config.json.
    key_file = tmp_path / "pub.pem"
    key_file.write_bytes(PUB_PEM)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    der = base64.b64encode(PRIV.public_key().public_bytes(*spki)).decode()
    for key in (
        PUB_B64,
        PUB_PEM.decode(),
        PUB_PEM.decode().replace("\n", "\\n"),
        str(key_file),
        der,
    ):
        dep = load_deployment(
            lic_file(tmp_path, token, ["app.example.com", "other.org"]),
            settings(license_public_key=key),
        )
        assert dep.license == info
    # The raw compact form (without the outer base64) is accepted too.
    compact = base64.b64decode(token).decode()
    assert verify_token(compact, PRIV.public_key()) == info


@pytest.mark.parametrize("value", ["", "OPEN", "open", None])
def test_open_license(tmp_path: Path, value: str | None) -> None:
    doc = face() if value is None else face(license=value)
    dep = load_deployment(write(tmp_path, doc), settings(license_public_key=PUB_B64))
    assert dep.license is None


def test_token_needs_public_key(tmp_path: Path) -> None:
    token = issue_token(PRIV, ["example.com"], 30, sub="acme")
    with pytest.raises(ConfigError, match="FACEPROOF_LICENSE_PUBLIC_KEY is not set"):
        load_deployment(lic_file(tmp_path, token), settings())
    with pytest.raises(ConfigError, match="not an Ed25519 public key"):
        load_deployment(lic_file(tmp_path, token), settings(license_public_key="bm9wZQ=="))


def test_expired_token(tmp_path: Path) -> None:
    token = issue_token(PRIV, ["example.com"], 1, sub="acme", now=time.time() - 2 * 86400)
    with pytest.raises(ConfigError, match="license expired on") as exc:
        load_deployment(lic_file(tmp_path, token), settings(license_public_key=PUB_B64))
    assert str(exc.value).startswith(str(tmp_path))
    # Still valid the day it was issued.
    assert verify_token(token, PRIV.public_key(), now=time.time() - 1.5 * 86400)


def test_token_not_yet_valid() -> None:
    token = issue_token(PRIV, ["example.com"], 1, sub="acme", now=time.time() + 3600)
    with pytest.raises(LicenseError, match="not valid"):
        verify_token(token, PRIV.public_key())


def _segments(token: str) -> list[str]:
    return base64.b64decode(token).decode().split(".")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_tampered_and_foreign_tokens(tmp_path: Path) -> None:
    token = issue_token(PRIV, ["example.com"], 30, sub="acme")
    header, payload, sig = _segments(token)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["domains"] = ["evil.com"]
    forged = ".".join([header, _b64url(json.dumps(claims).encode()), sig])
    s = settings(license_public_key=PUB_B64)
    with pytest.raises(ConfigError, match="signature is invalid"):
        load_deployment(lic_file(tmp_path, forged, "evil.com"), s)
    other = load_private_key(generate_keypair()[0])
    with pytest.raises(ConfigError, match="signature is invalid"):
        load_deployment(lic_file(tmp_path, issue_token(other, ["example.com"], 30, sub="x")), s)
    unsigned = ".".join([_b64url(b'{"alg":"none","typ":"faceproof-license+jwt"}'), payload, ""])
    with pytest.raises(ConfigError, match="malformed"):
        load_deployment(lic_file(tmp_path, unsigned), s)


def test_token_must_cover_every_domain(tmp_path: Path) -> None:
    token = issue_token(PRIV, ["example.com"], 30, sub="acme")
    s = settings(license_public_key=PUB_B64)
    dep = load_deployment(lic_file(tmp_path, token, "shop.example.com"), s)
    assert dep.license is not None
    with pytest.raises(ConfigError, match=re.escape("'example.org' is not covered")):
        load_deployment(lic_file(tmp_path, token, ["example.com", "example.org"]), s)
    with pytest.raises(ConfigError, match=re.escape("'evil-example.com' is not covered")):
        load_deployment(lic_file(tmp_path, token, "evil-example.com"), s)
    # Extra origins are bounded by the token too, loopback excepted.
    extra = settings(license_public_key=PUB_B64, allowed_origins="localhost,staging.net")
    with pytest.raises(ConfigError, match=re.escape("'staging.net' is not covered")):
        load_deployment(lic_file(tmp_path, token), extra)


# -- CLI -------------------------------------------------------------------------------


def test_cli_keygen_issue_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    keys = tmp_path / "keys"
    res = runner.invoke(license_group, ["keygen", "--out", str(keys)])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE((keys / PRIVATE_NAME).stat().st_mode) == 0o600
    pub_line = next(x for x in res.output.splitlines() if x.startswith("FACEPROOF_LICENSE"))
    pub = pub_line.split("=", 1)[1]
    assert load_public_key(str(keys / PUBLIC_NAME)).public_bytes_raw() == base64.b64decode(pub)
    res = runner.invoke(license_group, ["keygen", "--out", str(keys)])
    assert res.exit_code != 0 and "exists" in res.output

    res = runner.invoke(
        license_group,
        ["issue", "--key", str(keys / PRIVATE_NAME), "--domains", "a.com, b.com", "--days", "7"],
    )
    assert res.exit_code == 0, res.output
    token = res.output.strip()
    info = verify_token(token, load_public_key(pub))
    assert info.domains == {"a.com", "b.com"} and info.sub == "a.com"

    res = runner.invoke(
        license_group, ["issue", "--key", str(keys / PRIVATE_NAME), "--domains", "bad domain"]
    )
    assert res.exit_code != 0 and "bad domain" in res.output

    cfg = lic_file(tmp_path, token, "a.com")
    monkeypatch.setenv("FACEPROOF_LICENSE_PUBLIC_KEY", pub)
    monkeypatch.setenv("FACEPROOF_ALLOWED_ORIGINS", "localhost")
    res = runner.invoke(license_group, ["check", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "a.com" in res.output and "expires" in res.output
    monkeypatch.setenv("FACEPROOF_LICENSE_PUBLIC_KEY", public_key_b64(PRIV.public_key()))
    res = runner.invoke(license_group, ["check", "--config", str(cfg)])
    assert res.exit_code != 0 and "signature is invalid" in res.output
