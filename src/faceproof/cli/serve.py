"""``faceproof serve``: checks the deployment, then runs uvicorn."""

from __future__ import annotations

import sys

import click

from faceproof.config import ConfigError, load_settings


@click.command()
@click.option("--host", default=None, help="Bind address (env FACEPROOF_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (env FACEPROOF_PORT, default 8080).")
@click.option("--workers", type=int, default=None, help="Worker processes (env FACEPROOF_WORKERS).")
@click.option(
    "--data-dir", default=None, help="Data dir for keys, ledger, models (FACEPROOF_DATA_DIR)."
)
def serve(host: str | None, port: int | None, workers: int | None, data_dir: str | None) -> None:
    """Run the HTTP server."""
    import os

    import uvicorn

    for env, value in (
        ("FACEPROOF_HOST", host),
        ("FACEPROOF_PORT", port),
        ("FACEPROOF_WORKERS", workers),
        ("FACEPROOF_DATA_DIR", data_dir),
    ):
        if value is not None:
            os.environ[env] = str(value)
    try:
        settings = load_settings()
        # Fail fast with one line, before forking workers.
        from faceproof.api.deps import build_services

        services = build_services(settings)
    except ConfigError as exc:
        click.echo(f"faceproof: {exc}", err=True)
        sys.exit(2)
    level = settings.log_level.lower()
    if settings.workers == 1:
        # One process: serve with the services just checked instead of building them again.
        from faceproof.api.app import create_app

        app = create_app(settings, services)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=level,
            access_log=False,
            server_header=False,
        )
        return
    services.close()  # each worker process builds its own
    uvicorn.run(
        "faceproof.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=level,
        access_log=False,
        server_header=False,
    )
