"""The ``faceproof`` command: one module per command group."""

from __future__ import annotations

import click

from faceproof import __version__


@click.group()
@click.version_option(__version__, prog_name="faceproof")
def main() -> None:
    """faceproof: self-hosted face biometrics server."""


def _register() -> None:
    from faceproof.cli.serve import serve

    main.add_command(serve)
    optional = [
        ("faceproof.cli.keys", "keys"),
        ("faceproof.cli.envelope", "envelope"),
        ("faceproof.cli.transactions", "transactions"),
        ("faceproof.cli.license", "license_group"),
        ("faceproof.cli.models", "models"),
        ("faceproof.cli.eval", "eval_group"),
        ("faceproof.cli.calibrate", "calibrate"),
        ("faceproof.cli.liveness_train", "liveness_group"),
    ]
    import importlib

    for module_name, attr in optional:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        main.add_command(getattr(module, attr))


_register()
