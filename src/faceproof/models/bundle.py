"""The browser-side model bundle served by ``POST /api/v1/models``.

Layout (all integers big-endian)::

    b"FPMB"            magic
    u8   version       (1)
    u32  manifest_len
    manifest           UTF-8 JSON: {"format": "faceproof-model-bundle", "version": 1,
                        "files": [{"name", "role", "offset", "size", "sha256"}]}
    file bytes         concatenated; offsets are relative to the end of the manifest

The SDK checks each file's SHA-256 before use (WebCrypto digest). Which files go in, and
their roles (``face_detector``, ``face_mesh``), is ``BROWSER_MODELS`` in the utility router;
each must be a pinned manifest model, so the digests match ``faceproof models list``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"FPMB"
VERSION = 1


@dataclass(frozen=True)
class BundleFile:
    name: str
    role: str
    data: bytes


def build_bundle(files: Iterable[BundleFile]) -> bytes:
    entries = []
    blobs = []
    offset = 0
    for f in files:
        entries.append(
            {
                "name": f.name,
                "role": f.role,
                "offset": offset,
                "size": len(f.data),
                "sha256": hashlib.sha256(f.data).hexdigest(),
            }
        )
        blobs.append(f.data)
        offset += len(f.data)
    manifest = json.dumps(
        {"format": "faceproof-model-bundle", "version": VERSION, "files": entries},
        separators=(",", ":"),
    ).encode()
    return MAGIC + struct.pack(">BI", VERSION, len(manifest)) + manifest + b"".join(blobs)


def parse_bundle(data: bytes) -> tuple[dict[str, object], dict[str, bytes]]:
    """Inverse of :func:`build_bundle`; raises ValueError on any inconsistency."""
    if len(data) < 9 or data[:4] != MAGIC:
        raise ValueError("not a faceproof model bundle")
    version, mlen = struct.unpack(">BI", data[4:9])
    if version != VERSION or 9 + mlen > len(data):
        raise ValueError("unsupported or truncated bundle")
    manifest = json.loads(data[9 : 9 + mlen])
    body = data[9 + mlen :]
    files: dict[str, bytes] = {}
    for e in manifest["files"]:
        blob = body[e["offset"] : e["offset"] + e["size"]]
        if len(blob) != e["size"] or hashlib.sha256(blob).hexdigest() != e["sha256"]:
            raise ValueError(f"bundle file {e['name']} is corrupt")
        files[e["name"]] = blob
    return manifest, files


def browser_bundle(models_path: Path, names: Iterable[tuple[str, str]] = ()) -> bytes:
    """Bundle of the named (file, role) pairs from the model store."""
    return build_bundle(BundleFile(n, r, (models_path / n).read_bytes()) for n, r in names)
