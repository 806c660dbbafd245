"""`clickstream local` (placeholder until its owner lands it)."""

from __future__ import annotations

import click


@click.command(name="local")
def local() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
