"""``faceproof eval``: evaluation commands (numbers come from here, never from tests)."""

from __future__ import annotations

import click

from faceproof.cli.eval_faces import faces
from faceproof.cli.eval_liveness import liveness
from faceproof.cli.eval_verify import verify
from faceproof.cli.identification import eval_identification


@click.group("eval")
def eval_group() -> None:
    """Measure accuracy on a labelled data set and write a JSON report and a DET plot."""


def _register() -> None:
    eval_group.add_command(verify)
    eval_group.add_command(liveness)
    eval_group.add_command(faces)
    eval_group.add_command(eval_identification)


_register()
