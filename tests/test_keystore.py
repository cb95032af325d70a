"""Key store: private files, RFC 7638 kids, rotation with grace, multi-process start-up, CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from faceproof.crypto.keystore import KeyStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0: files must still come out private, because we set modes explicitly."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_first_open_creates_private_files(tmp_path: Path, permissive_umask: None) -> None:
    directory = tmp_path / "keys"
    store = KeyStore.open(directory)
    kid = store.current_kid

    assert _mode(directory) == 0o700
    pem = directory / f"{kid}.pem"
    assert _mode(pem) == 0o600
    assert _mode(directory / "index.json") == 0o600
    assert _mode(directory / ".lock") == 0o600
    assert sorted(p.name for p in directory.iterdir()) == sorted([".lock", "index.json", pem.name])

    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 3072
    index = json.loads((directory / "index.json").read_text())
    assert index["current"] == kid
    assert [(k["kid"], k["retired_at"], k["bits"]) for k in index["keys"]] == [(kid, None, 3072)]


def test_kid_is_rfc7638_thumbprint_and_jwk_is_public_only(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path / "keys")
    jwk = store.public_jwk()
    # RFC 7638 §3: required members in lexicographic order, no whitespace, SHA-256, base64url.
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert jwk["kid"] == store.current_kid == expected.rstrip(b"=").decode()
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RSA-OAEP-256", "enc")

    spki = serialization.load_der_public_key(base64.b64decode(store.public_spki_b64()))
    assert isinstance(spki, rsa.RSAPublicKey)
    numbers = spki.public_numbers()
    assert numbers.n == _b64url_int(jwk["n"]) and numbers.e == _b64url_int(jwk["e"])


def test_reopen_keeps_the_key(tmp_path: Path) -> None:
    first = KeyStore.open(tmp_path / "keys")
    second = KeyStore.open(tmp_path / "keys")
    assert second.current_kid == first.current_kid
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1


def test_small_keys_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3072"):
        KeyStore.open(tmp_path / "keys", bits=2048)


def test_rotation_grace_and_deletion(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    t0 = 1_000_000.0
    store = KeyStore.open(directory, grace_seconds=100, now=t0)
    old = store.current_kid
    new = store.rotate(now=t0 + 1000)

    assert new != old and store.current_kid == new
    assert store.private_key_for(old, now=t0 + 1000 + 99.9) is not None
    assert store.private_key_for(old, now=t0 + 1000 + 100) is None
    assert store.private_key_for(new, now=t0 + 10**9) is not None  # current never expires
    assert store.private_key_for("unknown-kid", now=t0) is None
    listed = store.keys()
    infos = {k.kid: k for k in listed}
    assert infos[old].retired_at == t0 + 1000 and not infos[old].current
    assert infos[new].retired_at is None and infos[new].current

    # Still on disk during grace; gone once a later open passes the grace.
    KeyStore.open(directory, grace_seconds=100, now=t0 + 1050)
    assert (directory / f"{old}.pem").exists()
    after = KeyStore.open(directory, grace_seconds=100, now=t0 + 1100)
    assert not (directory / f"{old}.pem").exists()
    remaining = after.keys()
    assert [k.kid for k in remaining] == [new]


def test_rotation_reaches_other_processes_view(tmp_path: Path) -> None:
    worker_a = KeyStore.open(tmp_path / "keys")
    worker_b = KeyStore.open(tmp_path / "keys")
    new = worker_a.rotate()
    assert worker_b.current_kid == new
    assert worker_b.public_jwk()["kid"] == new
    assert worker_b.private_key_for(new) is not None


def test_rotate_on_empty_store_makes_one_key(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path / "keys", create=False)
    with pytest.raises(LookupError):
        _ = store.current_kid
    kid = store.rotate()
    stored = store.keys()
    assert [k.kid for k in stored] == [kid]
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1


def _open_and_report(directory: str, barrier: object, queue: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    queue.put(KeyStore.open(Path(directory)).current_kid)  # type: ignore[attr-defined]


def test_two_workers_starting_together_share_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    directory = str(tmp_path / "keys")
    procs = [ctx.Process(target=_open_and_report, args=(directory, barrier, queue)) for _ in "ab"]
    for p in procs:
        p.start()
    kids = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert kids[0] == kids[1]
    assert len(list(Path(directory).glob("*.pem"))) == 1


def test_keys_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceproof.cli.keys import keys

    monkeypatch.chdir(tmp_path)  # no stray .env
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]

    first = runner.invoke(keys, ["rotate", *data])
    assert first.exit_code == 0, first.output
    kid1 = first.output.strip()
    shown = runner.invoke(keys, ["show", *data])
    assert json.loads(shown.output)["kid"] == kid1
    kid2 = runner.invoke(keys, ["rotate", *data]).output.strip()
    assert kid2 != kid1

    listed = runner.invoke(keys, ["list", *data])
    lines = listed.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(kid1) and "grace until" in lines[0]
    assert lines[1].startswith(kid2) and lines[1].endswith("current")
    as_json = json.loads(runner.invoke(keys, ["list", "--json", *data]).output)
    assert [k["current"] for k in as_json] == [False, True]
    assert "BEGIN" not in listed.output + shown.output  # never prints private material
