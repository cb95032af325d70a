"""1:N identification: galleries of enrolled subjects, open-set search, calibrated FPIR levels.

Modules: ``sealing`` (templates encrypted at rest), ``store`` (the storage protocol),
``sqlite_store`` / ``pg_store`` (embedded and PostgreSQL + pgvector), ``index`` (the
per-worker search index), ``levels`` (FPIR levels and their calibration), ``service`` (what
the API calls). Details: docs/identification.md.
"""
