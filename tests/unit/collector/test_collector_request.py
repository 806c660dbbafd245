"""Write-key parsing, content-type and body decoding (pure, no server)."""

from __future__ import annotations

import base64
import gzip

import pytest

from clickstream.collector.request import (
    RequestError,
    check_content_type,
    check_write_key,
    decode_body,
    write_key_from_headers,
)

KEY = "s3cr3t-key"


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-write-key": KEY}, KEY),
        ({"x-write-key": f"  {KEY} "}, KEY),
        ({"authorization": f"Bearer {KEY}"}, KEY),
        ({"authorization": f"bearer   {KEY}"}, KEY),
        ({"authorization": basic(KEY)}, KEY),  # Segment SDKs: key as username, empty password
        ({"authorization": basic(KEY, "ignored")}, KEY),
        ({"authorization": "Basic " + base64.b64encode(KEY.encode()).decode()}, KEY),  # no colon at all
        ({"x-write-key": KEY, "authorization": "Bearer other"}, KEY),  # the explicit header wins
        ({"authorization": "Basic %%%not-base64"}, None),
        ({"authorization": basic("")}, None),
        ({"authorization": "Bearer "}, None),
        ({"authorization": f"Token {KEY}"}, None),
        ({"x-write-key": ""}, None),
        ({}, None),
    ],
)
def test_write_key_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert write_key_from_headers(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-write-key": "wrong"}, {"x-write-key": KEY + "x"}, {"authorization": basic("wrong")}],
)
def test_check_write_key_rejects_missing_or_wrong_keys(headers: dict[str, str]) -> None:
    err = check_write_key(headers, KEY)

    assert err is not None
    assert (err.status, err.code) == (401, "unauthorized")
    assert "X-Write-Key" in err.message


def test_check_write_key_accepts_the_key() -> None:
    assert check_write_key({"authorization": basic(KEY)}, KEY) is None


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", "text/plain;charset=UTF-8"],
)
def test_json_content_types_pass(content_type: str) -> None:
    assert check_content_type({"content-type": content_type}) is None


@pytest.mark.parametrize(
    ("headers", "mentions"),
    [
        ({}, "no Content-Type"),
        ({"content-type": "application/x-www-form-urlencoded"}, "application/x-www-form-urlencoded"),
        ({"content-type": "multipart/form-data; boundary=x"}, "multipart/form-data"),
    ],
)
def test_other_content_types_are_415(headers: dict[str, str], mentions: str) -> None:
    err = check_content_type(headers)

    assert err is not None and err.status == 415
    assert mentions in err.message and "application/json" in err.message


def test_plain_body_passes_through() -> None:
    assert decode_body({}, b'{"a":1}', max_bytes=100) == b'{"a":1}'


def test_gzip_body_is_decompressed() -> None:
    data = b'[{"event_type":"click"}]' * 10

    assert decode_body({"content-encoding": "gzip"}, gzip.compress(data), max_bytes=1000) == data


@pytest.mark.parametrize("size", [100, 101])
def test_body_limit_is_inclusive(size: int) -> None:
    result = decode_body({}, b"x" * size, max_bytes=100)

    assert (result == b"x" * size) if size == 100 else isinstance(result, RequestError) and result.status == 413


def test_gzip_bomb_is_stopped_at_the_limit() -> None:
    # GIVEN 100 MB of zeros that compress to ~100 KB
    bomb = gzip.compress(b"\0" * 100_000_000, compresslevel=9)

    result = decode_body({"content-encoding": "gzip"}, bomb, max_bytes=500 * 1024)

    assert isinstance(result, RequestError) and result.status == 413


def test_gzip_that_inflates_exactly_to_the_limit_passes() -> None:
    data = b"a" * 1000

    assert decode_body({"content-encoding": "gzip"}, gzip.compress(data), max_bytes=1000) == data


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not gzip at all", "invalid_gzip"), (gzip.compress(b"x" * 5000, mtime=0)[:-20], "invalid_gzip")],
)
def test_corrupt_or_truncated_gzip_is_400(body: bytes, code: str) -> None:
    result = decode_body({"content-encoding": "gzip"}, body, max_bytes=10_000)

    assert isinstance(result, RequestError) and (result.status, result.code) == (400, code)


def test_unknown_encoding_is_415() -> None:
    result = decode_body({"content-encoding": "br"}, b"...", max_bytes=100)

    assert isinstance(result, RequestError) and (result.status, result.code) == (415, "unsupported_encoding")
