"""anonymise_ip: IPv4 keeps 24 bits, IPv6 keeps 48, mapped IPv6 becomes anonymised IPv4."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickstream.events.anonymise import anonymise_ip


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.168.1.1", "192.168.1.0"),
        ("203.0.113.255", "203.0.113.0"),
        ("10.0.0.0", "10.0.0.0"),
        ("0.0.0.0", "0.0.0.0"),
        (" 8.8.4.4\n", "8.8.4.0"),
        ("2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::"),
        ("2001:DB8:ABCD:0012::1", "2001:db8:abcd::"),
        ("2001:0:abcd::5", "2001:0:abcd::"),
        ("2001:db8::1", "2001:db8::"),
        ("0:0:1::ff", "0:0:1::"),
        ("::1", "::"),
        ("::", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:192.168.1.77", "192.168.1.0"),
        ("::FFFF:c0a8:14d", "192.168.1.0"),
    ],
)
def test_anonymise_ip(ip: str, expected: str) -> None:
    assert anonymise_ip(ip) == expected


@pytest.mark.parametrize(
    "ip",
    [
        "",
        "localhost",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.4/24",
        "2001:db8::1::2",
        "gggg::1",
        "1.2.3.4\x00",
        "\u0661.2.3.4",
        "192.168.1.1, 10.0.0.1",
    ],
)
def test_non_addresses_raise_value_error(ip: str) -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        anonymise_ip(ip)


def test_non_string_raises_value_error() -> None:
    with pytest.raises(ValueError, match="expected an IP address string"):
        anonymise_ip(3232235777)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv4_matches_the_ipaddress_reference_and_is_idempotent(number: int) -> None:
    ip = str(ipaddress.IPv4Address(number))

    anonymised = anonymise_ip(ip)

    assert anonymised == str(ipaddress.IPv4Address(number & 0xFFFFFF00))
    assert anonymise_ip(anonymised) == anonymised


# Whole zero groups are the interesting case for `::` compression, so draw group by group.
_groups = st.lists(st.sampled_from([0, 0, 1, 0xDB8, 0xFFFF]) | st.integers(0, 0xFFFF), min_size=8, max_size=8)


@given(_groups)
def test_ipv6_matches_the_ipaddress_reference_and_is_idempotent(groups: list[int]) -> None:
    number = int.from_bytes(b"".join(g.to_bytes(2, "big") for g in groups), "big")
    address = ipaddress.IPv6Address(number)

    anonymised = anonymise_ip(str(address))

    if address.ipv4_mapped is not None:
        assert anonymised == str(ipaddress.IPv4Address(int(address.ipv4_mapped) & 0xFFFFFF00))
    else:
        assert anonymised == str(ipaddress.IPv6Address(number & (((1 << 48) - 1) << 80)))
    assert anonymise_ip(anonymised) == anonymised
    assert anonymise_ip(address.exploded) == anonymised
