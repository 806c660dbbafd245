"""Wiring: the collector's adapters built from settings (the only place that knows which)."""

from __future__ import annotations

from clickstream.adapters.s3 import BadRowsStore, IdentitiesStore, lake_bucket
from clickstream.adapters.streams import stream_writer
from clickstream.collector.service import CollectorService
from clickstream.settings import Settings


def build_service(settings: Settings) -> CollectorService:
    """A CollectorService writing to `settings.transport`, storing bad rows and identity records in the lake bucket."""
    from clickstream.events.useragent import warm_up

    # Load the user-agent rules now (~90 ms), not inside the first request.
    warm_up()
    bucket = lake_bucket(settings)
    return CollectorService(settings, stream_writer(settings), BadRowsStore(bucket), identities=IdentitiesStore(bucket))


def service_from_env() -> CollectorService:
    """`build_service(Settings.from_env())`: what the server and the Lambda call once per process."""
    return build_service(Settings.from_env())
