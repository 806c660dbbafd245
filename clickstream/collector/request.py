"""Pure HTTP request checks of the collector: write key, content type, body decoding. No I/O.

Headers are passed as a mapping with lower-cased names (ASGI and API Gateway v2 both do so).
Each check returns None when the request passes, or the `RequestError` to answer with.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

WRITE_KEY_HEADER = "x-write-key"
# sendBeacon() can only send text/plain without a CORS preflight, so browsers use it for JSON.
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib: expect a gzip header and trailer


@dataclass(frozen=True, slots=True)
class RequestError:
    status: int
    code: str
    message: str


UNAUTHORIZED = RequestError(
    401,
    "unauthorized",
    "missing or invalid write key: send the write key in the X-Write-Key header "
    "(or as `Authorization: Bearer <key>`, or as the HTTP Basic username)",
)


def write_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The write key a client sent: X-Write-Key, `Authorization: Bearer <key>` or Basic `<key>:` (Segment SDKs)."""
    key = headers.get(WRITE_KEY_HEADER)
    if key:
        return key.strip()
    auth = headers.get("authorization", "")
    scheme, _, credentials = auth.strip().partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "bearer" and credentials:
        return credentials
    if scheme == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username = decoded.partition(":")[0]
        return username or None
    return None


def check_write_key(headers: Mapping[str, str], expected: str) -> RequestError | None:
    """None when the request carries `expected`; compared in constant time."""
    sent = write_key_from_headers(headers)
    if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        return UNAUTHORIZED
    return None


def check_content_type(headers: Mapping[str, str]) -> RequestError | None:
    """None for JSON bodies (application/json, or text/plain as sendBeacon sends); else 415."""
    raw = headers.get("content-type")
    media_type = (raw or "").partition(";")[0].strip().lower()
    if media_type in JSON_MEDIA_TYPES:
        return None
    got = f"Content-Type {raw!r}" if raw else "no Content-Type header"
    return RequestError(415, "unsupported_media_type", f"{got}: send JSON with Content-Type: application/json")


def decode_body(headers: Mapping[str, str], body: bytes, *, max_bytes: int) -> bytes | RequestError:
    """The request body as JSON bytes: gunzipped if `Content-Encoding: gzip`, at most `max_bytes` long.

    Decompression stops at `max_bytes + 1` bytes, so a small zip bomb never inflates in memory.
    """
    if len(body) > max_bytes:
        return too_large(max_bytes)
    encoding = headers.get("content-encoding", "").strip().lower()
    if not encoding or encoding == "identity":
        return body
    if encoding not in GZIP_ENCODINGS:
        return RequestError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported: send gzip or no encoding"
        )
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        return RequestError(400, "invalid_gzip", f"the body is not valid gzip: {exc}")
    if len(data) > max_bytes or inflater.unconsumed_tail:
        return too_large(max_bytes)
    if not inflater.eof:
        return RequestError(400, "invalid_gzip", "the gzip body is truncated")
    return data


def too_large(max_bytes: int) -> RequestError:
    return RequestError(
        413,
        "payload_too_large",
        f"the request body exceeds {max_bytes} bytes (after decompression): send smaller batches",
    )
