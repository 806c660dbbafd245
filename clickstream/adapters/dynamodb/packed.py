"""How the realtime table stores counters: one item per (window, shard), every cell packed inside.

The readers see logical items, one per (pk, sk) as `clickstream.metrics.aggregate` keys them
(`all`, `type#page_view`, `url#/cart`, for windows `m#…`, `h#…`, `d#…`). The table holds, per window and
per shard that wrote to it, ONE physical item (ADR 0010):

| attribute | value |
|---|---|
| `pk` | `win#<resolution>#<group>`: `win#h#07`; the group is a hash of the shard (`KEY_GROUPS`) |
| `sk` | `<window sk>@<shard>`, e.g. `h#2026-11-22T14:00:00Z@shardId-000000000001` |
| `cells` | zlib(JSON `{logical pk: [events, errors, "revenue", orders, duration_ms, timed_events]}`) |
| `wm` | the position of the shard's last record applied to the item (56 digits) |
| `expires_at` | the window's TTL |

Why: a batch of a shard then writes one item per window it touches (a few), not one per
(dimension value, window) (hundreds), and every item has one writer, so none is hot and no
write races another. The groups spread a window's items over several partition keys, so that
no partition key takes more than 1,000 WCU/s at 200 shards. Readers Query the window's items in
each group that has a shard (`begins_with(sk, "<window sk>@")`) and sum the cells over shards.
Pure: no I/O here.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

import orjson

from clickstream.constants import REALTIME_KEY_GROUPS
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import REVENUE, Cell, Counters, Key, merge

WINDOW_PK_PREFIX: Final = "win#"
SHARD_SEPARATOR: Final = "@"
CELLS: Final = "cells"
WATERMARK: Final = "wm"
MAX_ITEM_BYTES: Final = 400 * 1024  # DynamoDB's item size limit, names and values included
ZLIB_LEVEL: Final = 6
KEY_GROUPS: Final = REALTIME_KEY_GROUPS
SKETCH: Final = "sketch"
SKETCH_PREFIXES: Final = (f"{d.UNIQUES_PREFIX}#", f"{d.TOP_PREFIX}#")

Cells = dict[str, Cell]  # logical pk → counter cell, one window of one shard


def group_of(shard: str) -> int:
    """The partition-key group of a shard's window items (stable: CRC-32 of its id)."""
    return zlib.crc32(shard.encode()) % KEY_GROUPS


def window_pk(resolution: str, group: int) -> str:
    """`win#h#07`: the hour items of the shards in group 7."""
    return f"{WINDOW_PK_PREFIX}{resolution}#{group:02d}"


def physical_key(window_sk: str, shard: str) -> Key:
    return window_pk(window_sk[0], group_of(shard)), shard_sk(window_sk, shard)


def shard_sk(window_sk: str, shard: str) -> str:
    return f"{window_sk}{SHARD_SEPARATOR}{shard}"


def is_sketch_pk(pk: str) -> bool:
    """`uniq#…` and `top#…`: sketches, one sub-item per shard (sk `<window>@<shard>`), merged on read."""
    return pk.startswith(SKETCH_PREFIXES)


def window_of(physical_sk: str) -> str:
    """The window sk of a physical item's sk (`h#…Z@shard` → `h#…Z`)."""
    return physical_sk.split(SHARD_SEPARATOR, 1)[0]


def is_window_item(pk: str) -> bool:
    return pk.startswith(WINDOW_PK_PREFIX)


def by_window(counters: Counters) -> dict[str, Cells]:
    """Logical counters → window sk → {logical pk: cell}."""
    out: dict[str, Cells] = {}
    for (pk, sk), cell in counters.items():
        out.setdefault(sk, {})[pk] = cell
    return out


def encode_cells(cells: Mapping[str, Cell]) -> bytes:
    plain = {
        pk: [str(v) if i == REVENUE else v for i, v in enumerate(cell)]
        for pk, cell in sorted(cells.items())
        if any(cell)
    }
    return zlib.compress(orjson.dumps(plain), ZLIB_LEVEL)


def decode_cells(blob: bytes | bytearray | None) -> Cells:
    if not blob:
        return {}
    plain: dict[str, list[Any]] = orjson.loads(zlib.decompress(bytes(blob)))
    return {pk: [Decimal(v) if i == REVENUE else v for i, v in enumerate(cell)] for pk, cell in plain.items()}


def added(stored: Mapping[str, Cell], deltas: Mapping[str, Cell]) -> Cells:
    """stored + deltas, cell by cell (new lists: the stored cells are not changed)."""
    return merge({pk: list(cell) for pk, cell in stored.items()}, deltas)


def logical_item(pk: str, sk: str, cell: Cell) -> dict[str, Any]:
    """A logical counter item as readers receive it: pk, sk and the non-zero counters, as Decimals
    (what DynamoDB's deserializer gave for the former one-item-per-key layout)."""
    item: dict[str, Any] = {"pk": pk, "sk": sk}
    for name, value in zip(d.COUNTER_FIELDS, cell, strict=True):
        if value:
            item[name] = Decimal(value)
    return item


def summed(items: Iterable[Mapping[str, Any]]) -> dict[Key, Cell]:
    """Physical window items (deserialized) → logical (pk, sk) → cell summed over shards."""
    out: dict[Key, Cell] = {}
    for item in items:
        window = window_of(str(item["sk"]))
        merge(out, {(pk, window): cell for pk, cell in decode_cells(_blob(item.get(CELLS))).items()})
    return out


def merged_sketches(items: Iterable[Mapping[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Sketch sub-items (deserialized, sk `<window>@<shard>`) → logical (pk, window) items whose
    `sketch` is the union (HLL) or merge (frequent items) of every shard's."""
    from clickstream.metrics.sketch import union_top, union_uniques

    blobs: dict[Key, list[bytes]] = {}
    for item in items:
        blob = _blob(item.get(SKETCH))
        if blob:
            blobs.setdefault((str(item["pk"]), window_of(str(item["sk"]))), []).append(blob)
    out: dict[Key, dict[str, Any]] = {}
    for (pk, sk), parts in blobs.items():
        merge = union_uniques if pk.startswith(f"{d.UNIQUES_PREFIX}#") else union_top
        out[(pk, sk)] = {"pk": pk, "sk": sk, SKETCH: merge(parts)}
    return out


def logical_items(items: Iterable[Mapping[str, Any]]) -> dict[Key, dict[str, Any]]:
    """A scan of the realtime table (deserialized items) as readers see it: window items unpacked
    into logical counter items summed over shards, sketch sub-items merged; every other item as it is."""
    windows: list[Mapping[str, Any]] = []
    sketches: list[Mapping[str, Any]] = []
    out: dict[Key, dict[str, Any]] = {}
    for item in items:
        pk = str(item["pk"])
        if is_window_item(pk):
            windows.append(item)
        elif is_sketch_pk(pk):
            sketches.append(item)
        else:
            out[(pk, str(item["sk"]))] = dict(item)
    for (pk, sk), cell in summed(windows).items():
        out[(pk, sk)] = logical_item(pk, sk, cell)
    out.update(merged_sketches(sketches))
    return out


def _blob(value: Any) -> bytes | None:
    if value is None:
        return None
    return bytes(value.value if hasattr(value, "value") else value)  # boto3's Binary wraps bytes
