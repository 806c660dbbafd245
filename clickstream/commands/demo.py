"""`clickstream demo` (placeholder until its owner lands it)."""

from __future__ import annotations

import click


@click.command(name="demo")
def demo() -> None:
    """Not implemented yet."""
    raise click.ClickException("not implemented yet")
