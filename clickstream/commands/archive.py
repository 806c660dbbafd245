"""`clickstream archive` (placeholder until its owner lands it)."""

from __future__ import annotations

import click


@click.command(name="archive")
def archive() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
