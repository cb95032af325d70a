"""How the stores reach shared state: SQLite files of one host (``sqlite_file``), Redis and
PostgreSQL for several replicas (``redis_client``, ``postgres``), the abuse counters
(``counters``) and the stores' part of ``/face_health`` (``health``)."""
