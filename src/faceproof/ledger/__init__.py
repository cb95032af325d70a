"""Transaction ledger: the local stand-in for the reference's cloud "License Manager".

``open_ledger`` picks the backend: ``FACEPROOF_LEDGER_URL`` when set (``sqlite:///file`` or
``postgresql://…``), else PostgreSQL when ``FACEPROOF_DATABASE_URL`` names it (the database
that several replicas share, as the gallery does), else ``<data_dir>/ledger.sqlite3``.
Callers only see the :class:`Ledger` protocol. Both backends take their schema from
:mod:`faceproof.ledger.migrations` (docs/ledger.md).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from faceproof.config import ConfigError
from faceproof.ledger.base import Ledger, Transaction
from faceproof.ledger.pg import PgLedger
from faceproof.ledger.spool import FILENAME as SPOOL_FILENAME
from faceproof.ledger.sqlite import SqliteLedger
from faceproof.storage import postgres

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
        raise ConfigError("FACEPROOF_LEDGER_URL: a PostgreSQL ledger has no file path")
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


def open_ledger(
    url: str | None,
    data_dir: Path,
    *,
    must_exist: bool = False,
    database_url: str | None = None,
) -> Ledger:
    """Open the configured ledger (see the module docstring for the order of choice).

    ``url`` is ``FACEPROOF_LEDGER_URL``, ``database_url`` is ``FACEPROOF_DATABASE_URL``.
    ``must_exist`` is for readers such as the report CLI, which should not create an empty
    ledger in the wrong place and then report zero transactions.
    """
    pg = postgres.postgres_url(database_url, "FACEPROOF_DATABASE_URL", "the ledger")
    if postgres.is_postgres_url(url):
        pg = (url or "").strip()
    elif url is not None and url.strip():
        pg = None  # an explicit SQLite ledger wins over the shared database
    if pg is not None:
        # The server's ledger keeps the rows of an outage on its disk (ledger/spool.py);
        # readers (must_exist) never write.
        spool = None if must_exist else data_dir / SPOOL_FILENAME
        return PgLedger(pg, must_exist=must_exist, spool=spool)
    return SqliteLedger(ledger_path(url, data_dir), must_exist=must_exist)
