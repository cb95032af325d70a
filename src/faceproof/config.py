"""Server settings: the reference deployment's variables plus our own, from env or ``.env``.

Reference-compatible names (``LOG_LEVEL``, ``SERVER_CONFIG_PATH``,
``TEMPLATE_ENCRYPTION_ENABLED``, ``TEMPLATE_ENCRYPTION_KEY``) are read unprefixed so an
existing ``.env`` works unchanged; faceproof's own settings use the ``FACEPROOF_`` prefix.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A configuration problem; its message is one line meant for the operator."""


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"FACEPROOF_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Reference-compatible.
    log_level: str = Field("INFO", validation_alias=_alias("LOG_LEVEL"))
    server_config_path: Path | None = Field(None, validation_alias=_alias("SERVER_CONFIG_PATH"))
    template_encryption_enabled: bool = Field(
        False, validation_alias=_alias("TEMPLATE_ENCRYPTION_ENABLED")
    )
    template_encryption_key: str | None = Field(
        None, validation_alias=_alias("TEMPLATE_ENCRYPTION_KEY")
    )

    # faceproof's own.
    host: str = Field("127.0.0.1", validation_alias="FACEPROOF_HOST")
    port: int = Field(8080, validation_alias="FACEPROOF_PORT")
    # Worker processes; 0 = one per usable core (CPU affinity and cgroup quota), cli/serve.py.
    workers: int = Field(0, ge=0, le=256, validation_alias="FACEPROOF_WORKERS")
    data_dir: Path = Field(Path("var"), validation_alias="FACEPROOF_DATA_DIR")
    model_dir: Path | None = Field(None, validation_alias="FACEPROOF_MODEL_DIR")
    max_upload_bytes: int = Field(15 * 1024 * 1024, validation_alias="FACEPROOF_MAX_UPLOAD_BYTES")
    max_image_pixels: int = Field(40_000_000, validation_alias="FACEPROOF_MAX_IMAGE_PIXELS")
    # Per process: bytes of image decoding in flight (docs/deployment.md, "Limits").
    decode_memory_mb: int = Field(640, ge=64, validation_alias="FACEPROOF_DECODE_MEMORY_MB")
    # Connections (uvicorn, per worker): see docs/deployment.md, "Limits".
    max_connections: int = Field(256, ge=1, validation_alias="FACEPROOF_MAX_CONNECTIONS")
    keep_alive_seconds: float = Field(5.0, gt=0, validation_alias="FACEPROOF_KEEP_ALIVE_SECONDS")
    header_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias="FACEPROOF_HEADER_TIMEOUT_SECONDS"
    )
    body_timeout_seconds: float = Field(
        60.0, gt=0, validation_alias="FACEPROOF_BODY_TIMEOUT_SECONDS"
    )
    worker_threads: int = Field(4, ge=2, le=64, validation_alias="FACEPROOF_WORKER_THREADS")
    model_instances: int = Field(2, ge=1, le=16, validation_alias="FACEPROOF_MODEL_INSTANCES")
    request_expiry_seconds: int = Field(120, validation_alias="FACEPROOF_REQUEST_EXPIRY_SECONDS")
    allowed_origins: str = Field(
        "localhost,127.0.0.1", validation_alias="FACEPROOF_ALLOWED_ORIGINS"
    )
    allow_no_origin: bool = Field(True, validation_alias="FACEPROOF_ALLOW_NO_ORIGIN")
    # Request headers allowed cross-origin besides Content-Type, LogAPITrigger, requestID
    # (e.g. what an integrator adds in preInitialize's {url, headers}); comma-separated.
    cors_allow_headers: str = Field("", validation_alias="FACEPROOF_CORS_ALLOW_HEADERS")
    key_grace_seconds: int = Field(7 * 24 * 3600, validation_alias="FACEPROOF_KEY_GRACE_SECONDS")
    # The deployment's envelope keys (default <data_dir>/keys). Replicas sharing one key mount
    # it read-only (a Kubernetes/Docker secret) with KEYS_READ_ONLY: docs/deployment.md.
    keys_dir: Path | None = Field(None, validation_alias="FACEPROOF_KEYS_DIR")
    keys_read_only: bool = Field(False, validation_alias="FACEPROOF_KEYS_READ_ONLY")
    rsa_key_bits: int = Field(3072, validation_alias="FACEPROOF_RSA_KEY_BITS")
    license_public_key: str | None = Field(None, validation_alias="FACEPROOF_LICENSE_PUBLIC_KEY")
    ledger_url: str | None = Field(None, validation_alias="FACEPROOF_LEDGER_URL")
    require_models: bool = Field(True, validation_alias="FACEPROOF_REQUIRE_MODELS")
    liveness_require_challenge: bool = Field(
        False, validation_alias="FACEPROOF_LIVENESS_REQUIRE_CHALLENGE"
    )
    # Tests and development only: device flags (virtual/emulated camera, automated browser)
    # are reported but do not make a capture FEEDBACK_RETRY_INSECURE. Logged at start-up.
    allow_emulated_camera: bool = Field(False, validation_alias="FACEPROOF_ALLOW_EMULATED_CAMERA")
    # The additive `liveness` block (decision, reasons, challenge measures) in answers.
    liveness_details: bool = Field(True, validation_alias="FACEPROOF_LIVENESS_DETAILS")
    # generateTemplateFromImage also keys its template as the reference's IDENTY_TYPE_1 (the
    # same FACEPROOF_T1 bytes), for integrators' code that reads that key; docs/templates.md.
    template_key_compat: bool = Field(False, validation_alias="FACEPROOF_TEMPLATE_KEY_COMPAT")
    # /face/as and /secure/face/as echo the evaluated image in `input.image` (the reference's
    # example shows it; off by default: the caller has it already); docs/api-decisions.md.
    echo_input_image: bool = Field(False, validation_alias="FACEPROOF_ECHO_INPUT_IMAGE")
    match_calibration_path: Path | None = Field(
        None, validation_alias="FACEPROOF_MATCH_CALIBRATION"
    )
    # 1:N identification (docs/identification.md): galleries live in SQLite in the data dir
    # unless FACEPROOF_DATABASE_URL names PostgreSQL (with pgvector), shared by all replicas.
    database_url: str | None = Field(None, validation_alias="FACEPROOF_DATABASE_URL")
    # Shared single-use state (nonces, challenges) and abuse-limit counters for several
    # replicas: redis://host:port/db (storage/redis_client.py). Unset: SQLite in the data dir.
    redis_url: str | None = Field(None, validation_alias="FACEPROOF_REDIS_URL")
    # Serving (docs/deployment.md, "Serving"): requests that may wait per worker beyond the
    # FACEPROOF_WORKER_THREADS running (then 503 ERROR_SERVER_BUSY + Retry-After), and how long
    # SIGTERM waits for in-flight requests before closing them.
    queue_size: int = Field(8, ge=0, le=10_000, validation_alias="FACEPROOF_QUEUE_SIZE")
    shutdown_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias="FACEPROOF_SHUTDOWN_TIMEOUT_SECONDS"
    )
    # Abuse limits (docs/deployment.md, "Abuse limits"); counters shared by all workers
    # (SQLite in the data dir) or all replicas (FACEPROOF_REDIS_URL). 0 turns a limit off.
    abuse_failures: int = Field(5, ge=0, validation_alias="FACEPROOF_ABUSE_FAILURES")
    abuse_origin_failures: int = Field(0, ge=0, validation_alias="FACEPROOF_ABUSE_ORIGIN_FAILURES")
    abuse_window_seconds: int = Field(
        180, ge=1, le=86_400, validation_alias="FACEPROOF_ABUSE_WINDOW_SECONDS"
    )
    challenge_rate: int = Field(30, ge=0, validation_alias="FACEPROOF_CHALLENGE_RATE")
    challenge_rate_window_seconds: int = Field(
        60, ge=1, le=86_400, validation_alias="FACEPROOF_CHALLENGE_RATE_WINDOW_SECONDS"
    )
    # Comma-separated IPs/CIDRs whose X-Forwarded-For is believed (the client address).
    trusted_proxies: str = Field("", validation_alias="FACEPROOF_TRUSTED_PROXIES")
    # Who may GET /metrics: peers in these CIDRs, or a bearer token when set.
    metrics_allow: str = Field("127.0.0.1/32,::1/128", validation_alias="FACEPROOF_METRICS_ALLOW")
    metrics_token: str | None = Field(None, validation_alias="FACEPROOF_METRICS_TOKEN")
    identification_calibration_path: Path | None = Field(
        None, validation_alias="FACEPROOF_IDENTIFICATION_CALIBRATION"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"}:
            raise ValueError(f"LOG_LEVEL must be DEBUG/INFO/WARNING/ERROR, got {v!r}")
        return "WARNING" if v == "WARN" else v

    @field_validator("rsa_key_bits")
    @classmethod
    def _bits(cls, v: int) -> int:
        if v < 3072:
            raise ValueError("FACEPROOF_RSA_KEY_BITS must be at least 3072")
        return v

    @field_validator("cors_allow_headers")
    @classmethod
    def _cors_headers(cls, v: str) -> str:
        for name in (h.strip() for h in v.split(",")):
            if name and not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError("FACEPROOF_CORS_ALLOW_HEADERS must list header names")
        return v

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, v: str) -> str:
        for item in (x.strip() for x in v.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or CIDR: {item!r}") from None
        return v

    @property
    def keys_path(self) -> Path:
        return self.keys_dir or (self.data_dir / "keys")

    @property
    def models_path(self) -> Path:
        return self.model_dir or (self.data_dir / "models")

    @property
    def cors_extra_headers(self) -> list[str]:
        return [h.strip() for h in self.cors_allow_headers.split(",") if h.strip()]

    @property
    def extra_origins(self) -> list[str]:
        return [d.strip().lower() for d in self.allowed_origins.split(",") if d.strip()]


def load_settings(**overrides: object) -> Settings:
    """Settings from env/.env with explicit overrides; a bad value raises ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise ConfigError(f"invalid setting {loc}: {first.get('msg')}") from None
