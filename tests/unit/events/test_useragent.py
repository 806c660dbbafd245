"""parse_user_agent: browser, OS and device class from real user-agent strings, cached."""

from __future__ import annotations

import pytest

from clickstream.events.schema import DEVICE_CLASSES
from clickstream.events.useragent import MAX_PARSE_CHARS, UserAgentInfo, parse_user_agent

UAS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        ("Chrome", "Windows", "Desktop"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        ("Safari", "Mac OS X", "Desktop"),
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", ("Firefox", "Linux", "Desktop")),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.2 Mobile/15E148 Safari/604.1",
        ("Mobile Safari", "iOS", "Mobile"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        ("Chrome Mobile", "Android", "Mobile"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
        "Mobile/15E148 Safari/604.1",
        ("Mobile Safari", "iOS", "Tablet"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        ("Chrome", "Android", "Tablet"),
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ("Googlebot", "Other", "Bot")),
    ("curl/8.4.0", ("curl", "Other", "Other")),
    ("Mozilla/5.0", ("Other", "Other", "Other")),
]


@pytest.mark.parametrize(("ua", "expected"), UAS)
def test_parse_user_agent(ua: str, expected: tuple[str, str, str]) -> None:
    info = parse_user_agent(ua)

    assert info == UserAgentInfo(*expected)
    assert info.device in DEVICE_CLASSES


def test_results_are_cached() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:99.0) Gecko/20100101 Firefox/99.0 cache-probe"

    assert parse_user_agent(ua) is parse_user_agent(ua)


def test_only_a_bounded_prefix_is_parsed() -> None:
    ua = UAS[0][0]
    padded = ua + " " * MAX_PARSE_CHARS

    assert parse_user_agent(padded) is parse_user_agent(padded[:MAX_PARSE_CHARS])
