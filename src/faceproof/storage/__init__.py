"""How the stores reach shared state: SQLite files of one host (``sqlite_file``), Redis and
PostgreSQL for several replicas (``redis_client``, ``postgres``), the abuse counters
(``counters``), the stores' part of ``/face_health`` (``health``) and what a store that stops
answering becomes (``outage``: 503 ``ERROR_STORE_UNAVAILABLE``, one log line per outage)."""
