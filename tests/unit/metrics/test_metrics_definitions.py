"""Metric definitions shared by the speed and batch layers."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from clickstream.metrics import definitions as d


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/cart", "/cart"),
        ("/search?q=red+shoes", "/search"),
        ("/p/p1#reviews", "/p/p1"),
        ("/a#frag?not-a-query", "/a"),
        ("/" + "x" * 400, "/" + "x" * 255),
        ("", ""),
    ],
)
def test_url_dimension(url: str, expected: str) -> None:
    assert d.url_dimension(url) == expected


@pytest.mark.parametrize(
    ("status", "error"), [(200, False), (304, False), (399, False), (400, True), (404, True), (599, True)]
)
def test_is_error(status: int, error: bool) -> None:
    assert d.is_error(status) is error


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"event_type": "purchase", "price": 19.99, "quantity": 3}, Decimal("59.97")),
        ({"event_type": "purchase", "price": 0.1, "quantity": None}, Decimal("0.1")),  # quantity defaults to 1
        ({"event_type": "purchase", "price": 1e-9, "quantity": 1}, Decimal("0")),  # to the millionth
        ({"event_type": "add_to_cart", "price": 19.99, "quantity": 3}, Decimal(0)),  # not a purchase
        ({"event_type": "purchase", "price": None, "quantity": 1}, Decimal(0)),
        ({"event_type": "purchase", "price": 1e12, "quantity": 2}, None),  # beyond what the counters hold
    ],
)
def test_revenue_of(event: dict[str, object], expected: Decimal | None) -> None:
    assert d.revenue_of(event) == expected


def test_keys() -> None:
    assert d.pk(d.TYPE, "page_view") == "type#page_view"
    assert d.pk(d.STATUS, 404) == "status#404"
    assert d.bad_pk("too_late") == "bad#too_late"
    assert d.uniques_pk("users") == "uniq#users"
    assert d.order_pk("o1") == "order#o1"


def test_metrics_package_is_pure() -> None:
    # Importing every metrics module must not pull in boto3 (no I/O layer in the core).
    code = (
        "import sys\n"
        "import clickstream.metrics.aggregate, clickstream.metrics.definitions, clickstream.metrics.sketch, "
        "clickstream.metrics.windows\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
