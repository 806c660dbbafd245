"""`clickstream collector` (placeholder until its owner lands it)."""

from __future__ import annotations

import click


@click.command(name="collector")
def collector() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
