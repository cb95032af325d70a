"""Transaction ledger: the local stand-in for the reference's cloud "License Manager".

``open_ledger`` picks the backend from ``FACEPROOF_LEDGER_URL``; callers only see the
:class:`Ledger` protocol, so another backend (PostgreSQL for multi-host deployments) can be
added without touching them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from faceproof.config import ConfigError
from faceproof.ledger.base import Ledger, Transaction
from faceproof.ledger.sqlite import SqliteLedger

__all__ = ["DEFAULT_FILENAME", "Ledger", "SqliteLedger", "Transaction", "open_ledger"]

DEFAULT_FILENAME = "ledger.sqlite3"


def ledger_path(url: str | None, data_dir: Path) -> Path:
    """The SQLite file a ledger URL designates.

    ``sqlite:///name`` is relative to ``data_dir`` (a service's working directory is
    arbitrary, the data directory is not); ``sqlite:////abs/path`` is absolute, as in
    SQLAlchemy. Other schemes raise ConfigError without echoing the URL (it may hold a
    password).
    """
    if url is None or not url.strip():
        return data_dir / DEFAULT_FILENAME
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme in {"postgresql", "postgres"} or scheme.startswith("postgresql+"):
        raise ConfigError(
            "FACEPROOF_LEDGER_URL: PostgreSQL ledger not available in this build; "
            "use sqlite:///ledger.sqlite3 (one host) or leave it unset"
        )
    if scheme != "sqlite":
        raise ConfigError(
            f"FACEPROOF_LEDGER_URL: unsupported scheme {scheme or '(none)'!r}; "
            "expected sqlite:///path"
        )
    if not url.lower().startswith("sqlite:///"):
        raise ConfigError("FACEPROOF_LEDGER_URL: expected sqlite:///relative or sqlite:////abs")
    raw = unquote(url[len("sqlite:///") :].split("?", 1)[0])
    if not raw or raw == ":memory:":
        raise ConfigError("FACEPROOF_LEDGER_URL: an in-memory ledger is not durable; give a file")
    path = Path(raw)
    return path if path.is_absolute() else data_dir / path


def open_ledger(url: str | None, data_dir: Path, *, must_exist: bool = False) -> Ledger:
    """Open the configured ledger (default ``<data_dir>/ledger.sqlite3``).

    ``must_exist`` is for readers such as the report CLI, which should not create an empty
    ledger in the wrong directory and then report zero transactions.
    """
    return SqliteLedger(ledger_path(url, data_dir), must_exist=must_exist)
