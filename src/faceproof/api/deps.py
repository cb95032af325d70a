"""Services built once per worker at start-up and injected into routers.

Everything that can be wrong with a deployment (configuration, licence, keys, ledger,
models) is checked here, before the worker accepts a request, and reported as one line.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

from faceproof.config import ConfigError, Settings
from faceproof.crypto.envelope import EnvelopeOpener
from faceproof.crypto.keystore import KeyStore
from faceproof.crypto.replay import open_nonce_store
from faceproof.crypto.template_encryption import load_public_key
from faceproof.identification.service import IdentificationService
from faceproof.ledger import open_ledger
from faceproof.license import load_deployment
from faceproof.liveness.service import LivenessService
from faceproof.matching.matcher import Matcher
from faceproof.pipeline.decode import configure_decode_memory
from faceproof.pipeline.engine import FaceEngine

log = logging.getLogger("faceproof")

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from faceproof.crypto.envelope import EnvelopeOpener
    from faceproof.crypto.keystore import KeyStore
    from faceproof.identification.service import IdentificationService
    from faceproof.ledger.base import Ledger
    from faceproof.license import Deployment
    from faceproof.liveness.service import LivenessService
    from faceproof.matching.matcher import Matcher
    from faceproof.pipeline.engine import FaceEngine


@dataclass
class Services:
    settings: Settings
    deployment: Deployment
    keystore: KeyStore
    opener: EnvelopeOpener
    ledger: Ledger
    template_key: RSAPublicKey | None
    face: FaceEngine | None = None  # None only when models are not required
    liveness: LivenessService | None = None
    matcher: Matcher | None = None
    identification: IdentificationService | None = None  # needs the face models
    started_at: float = field(default_factory=time.time)

    def close(self) -> None:
        self.ledger.close()
        if self.identification is not None:
            self.identification.close()


def build_services(settings: Settings) -> Services:
    """Builds and checks every service; raises ConfigError with a one-line message."""
    configure_decode_memory(settings.decode_memory_mb * 1024 * 1024)
    deployment = load_deployment(settings.server_config_path, settings)
    prepare_data_dir(settings.data_dir)

    template_key = None
    if settings.template_encryption_enabled:
        if not settings.template_encryption_key:
            raise ConfigError(
                "TEMPLATE_ENCRYPTION_ENABLED=true but TEMPLATE_ENCRYPTION_KEY is not set"
            )
        try:
            template_key = load_public_key(settings.template_encryption_key)
        except ValueError as exc:
            raise ConfigError(f"TEMPLATE_ENCRYPTION_KEY: {exc}") from None

    try:
        keystore = KeyStore.open(
            settings.keys_path,
            bits=settings.rsa_key_bits,
            grace_seconds=settings.key_grace_seconds,
            read_only=settings.keys_read_only,
        )
    except (OSError, LookupError, ValueError) as exc:
        raise ConfigError(f"deployment keys: {exc}") from None
    nonces = open_nonce_store(settings)  # Redis when FACEPROOF_REDIS_URL is set
    opener = EnvelopeOpener(
        keystore,
        nonces,
        expiry_seconds=settings.request_expiry_seconds,
        max_token_bytes=settings.max_upload_bytes,
        max_frame_bytes=settings.max_upload_bytes,
    )
    ledger = open_ledger(settings.ledger_url, settings.data_dir, database_url=settings.database_url)
    services = Services(
        settings=settings,
        deployment=deployment,
        keystore=keystore,
        opener=opener,
        ledger=ledger,
        template_key=template_key,
    )
    # Without required models (FACEPROOF_REQUIRE_MODELS=false: foundation-only deployments
    # and tests) the face endpoints answer 500 "face models are not loaded".
    services.face = FaceEngine.from_settings(settings) if settings.require_models else None
    services.liveness = LivenessService.from_settings(settings)
    services.matcher = Matcher.from_settings(settings)
    if services.face is not None:
        services.identification = IdentificationService.from_settings(
            settings,
            services.face.embedder.model_id,
            services.face.embedder_digest,
            int(services.face.embedder.dimension),
            services.matcher,
        )
        services.identification.preload()
    return services


def prepare_data_dir(path: Path) -> None:
    """Create the data dir 0700, or check an existing one: ours, and private.

    It holds the deployment's private keys, the ledger and the single-use stores. A new
    directory is created 0700 (parents as the umask says). An existing one owned by this
    user but open to group or others is tightened to 0700 with a warning (what the operator
    asked for is the directory, not the loose mode; ``keys/`` is tightened the same way). One
    owned by another user is refused: that user could replace the keys or the ledger.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot create data dir {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"data dir {path} is not a directory")
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is None:
        return  # no POSIX ownership to check (Windows)
    if st.st_uid != uid:
        raise ConfigError(
            f"data dir {path} is owned by uid {st.st_uid}, not by this server's user "
            f"(uid {uid}): chown it to the service user"
        )
    loose = stat.S_IMODE(st.st_mode) & 0o077
    if loose:
        try:
            os.chmod(path, 0o700)
        except OSError as exc:
            raise ConfigError(f"cannot make data dir {path} private: {exc.strerror}") from None
        log.warning(
            "data dir %s was mode %o (open to group/others); tightened to 0700",
            path,
            stat.S_IMODE(st.st_mode),
        )


async def get_services(request: Request) -> Services:
    # async: FastAPI would run a plain ``def`` dependency on the thread pool, one thread
    # hand-off per request for an attribute read.
    services: Services = request.app.state.services
    return services
