"""`clickstream` command line. Each command group lives in `clickstream/commands/`."""

from __future__ import annotations

import click

from clickstream import __version__
from clickstream.api import cli as api_cli
from clickstream.commands import airflow as airflow_command
from clickstream.commands import archive, capacity, collector, consume, demo, local, simulate
from clickstream.commands import query as query_command
from clickstream.commands import realtime as realtime_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="clickstream")
def main() -> None:
    """clickstream: clickstream analytics on AWS-compatible services.

    \b
    Quick start (no Docker needed):
      clickstream local up        start the embedded stack (AWS server, Kafka, collector, archiver)
      clickstream simulate        send realistic traffic
      clickstream local status    see what is running
      clickstream local down      stop it

    Settings come from environment variables; see docs/CONFIGURATION.md.
    """


main.add_command(local.local)
main.add_command(simulate.simulate)
main.add_command(collector.collector)
main.add_command(archive.archive)
main.add_command(demo.demo)
main.add_command(capacity.capacity)
main.add_command(realtime_command.realtime)
main.add_command(consume.consume)
main.add_command(api_cli.api)
main.add_command(query_command.query)
main.add_command(airflow_command.airflow)

if __name__ == "__main__":
    main()
