"""The ``faceproof`` command: one module per command group."""

from __future__ import annotations

import click

from faceproof import __version__
from faceproof.cli.calibrate import calibrate
from faceproof.cli.call import call
from faceproof.cli.envelope import envelope
from faceproof.cli.eval import eval_group
from faceproof.cli.identification import gallery_group
from faceproof.cli.keys import keys
from faceproof.cli.license import license_group
from faceproof.cli.liveness_train import liveness_group
from faceproof.cli.models import models
from faceproof.cli.serve import serve
from faceproof.cli.transactions import transactions


@click.group()
@click.version_option(__version__, prog_name="faceproof")
def main() -> None:
    """faceproof: self-hosted face biometrics server."""


def _register() -> None:
    for command in (
        serve,
        keys,
        envelope,
        models,
        transactions,
        license_group,
        calibrate,
        eval_group,
        liveness_group,
        gallery_group,
        call,
    ):
        main.add_command(command)


_register()
