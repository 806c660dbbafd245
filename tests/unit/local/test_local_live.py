"""The foreground `local up`'s live line: counts, growth per second and unhealthy services."""

from __future__ import annotations

from clickstream.local.live import Sample, api_base, live_line
from clickstream.local.stack_status import ServiceStatus


def _status(name: str, healthy: bool = True, detail: str = "", url: str | None = None) -> ServiceStatus:
    return ServiceStatus(name, 1, None, url, healthy, healthy, 1.0, None, None, detail)


def test_first_line_shows_the_total_and_all_healthy() -> None:
    line = live_line(None, Sample(100.0, 1234), [_status("aws"), _status("api")], "12:00:00")
    assert line == "12:00:00  events counted 1,234  services: 2/2 healthy"


def test_later_lines_show_growth_and_rate() -> None:
    line = live_line(Sample(100.0, 1000), Sample(110.0, 1200), [_status("api")], "12:00:10")
    assert "events counted 1,200 (+200 in 10 s, 20.0/s)" in line


def test_a_shrinking_total_never_shows_a_negative_rate() -> None:
    # the batch layer replacing a speed-layer day can lower the total a little
    line = live_line(Sample(0.0, 1000), Sample(10.0, 990), [], "t")
    assert "(-10 in 10 s, 0.0/s)" in line


def test_unhealthy_services_are_named_with_why() -> None:
    statuses = [_status("api"), _status("consumer", healthy=False, detail="not running")]
    line = live_line(None, Sample(0.0, None, "GET /v1/stats: HTTP 503"), statuses, "t")
    assert "events counted: ? (GET /v1/stats: HTTP 503)" in line
    assert "services: 1/2 healthy; NOT healthy: consumer (not running)" in line


def test_api_base_drops_the_dashboard_key_fragment() -> None:
    statuses = [_status("api", url="http://127.0.0.1:8001/#key=local-read-key")]
    assert api_base(statuses) == "http://127.0.0.1:8001"
    assert api_base([_status("collector", url="http://127.0.0.1:8000")]) is None
