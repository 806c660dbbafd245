"""`clickstream simulate` (placeholder until its owner lands it)."""

from __future__ import annotations

import click


@click.command(name="simulate")
def simulate() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
