"""The realtime table's window items (`adapters.dynamodb.packed`): what goes in comes out, summed over shards."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from clickstream.adapters.dynamodb import packed
from clickstream.metrics.aggregate import new_cell
from clickstream.metrics.sketch import estimate_uniques, merge_top, merge_uniques, top_items, uniques_sketch

HOUR = "h#2026-11-22T14:00:00Z"
MINUTE = "m#2026-11-22T14:02:00Z"


def cell(events: int, revenue: str = "0", errors: int = 0) -> list[Any]:
    c = new_cell()
    c[0], c[1], c[2] = events, errors, Decimal(revenue)
    return c


def window_item(window: str, shard: str, cells: dict[str, list[Any]]) -> dict[str, Any]:
    pk, sk = packed.physical_key(window, shard)
    return {"pk": pk, "sk": sk, packed.WATERMARK: "0" * 56, packed.CELLS: packed.encode_cells(cells)}


def test_cells_survive_encoding_exactly_and_zero_cells_are_dropped() -> None:
    cells = {"all": cell(3, "19.990001", errors=1), "url#/cart": cell(2), "type#click": new_cell()}
    decoded = packed.decode_cells(packed.encode_cells(cells))
    assert decoded == {"all": cell(3, "19.990001", errors=1), "url#/cart": cell(2)}
    assert isinstance(decoded["all"][2], Decimal)


def test_a_window_item_key_names_resolution_group_window_and_shard() -> None:
    pk, sk = packed.physical_key(HOUR, "shardId-000000000001")
    assert pk == f"win#h#{packed.group_of('shardId-000000000001'):02d}"
    assert sk == f"{HOUR}@shardId-000000000001"
    assert packed.window_of(sk) == HOUR
    assert 0 <= packed.group_of("x") < packed.KEY_GROUPS
    assert packed.group_of("shardId-000000000001") == packed.group_of("shardId-000000000001")


def test_added_sums_cell_by_cell_and_leaves_the_stored_cells_alone() -> None:
    stored = {"all": cell(1, "1.5")}
    merged = packed.added(stored, {"all": cell(2, "0.25"), "status#404": cell(1, errors=1)})
    assert merged == {"all": cell(3, "1.75"), "status#404": cell(1, errors=1)}
    assert stored == {"all": cell(1, "1.5")}


def test_logical_items_sum_every_shard_of_a_window_and_pass_other_items_through() -> None:
    items: list[dict[str, Any]] = [
        window_item(HOUR, "shard-a", {"all": cell(2, "10"), "url#/cart": cell(1)}),
        window_item(HOUR, "shard-b", {"all": cell(3, "0.5"), "url#/": cell(3)}),
        window_item(MINUTE, "shard-a", {"all": cell(1)}),
        {"pk": "meta#freshness", "sk": "latest", "arrival#shard-a": 1},
    ]
    logical = packed.logical_items(items)
    assert logical[("all", HOUR)] == {"pk": "all", "sk": HOUR, "events": 5, "revenue": Decimal("10.5")}
    assert logical[("url#/cart", HOUR)] == {"pk": "url#/cart", "sk": HOUR, "events": 1}
    assert logical[("url#/", HOUR)]["events"] == 3
    assert logical[("all", MINUTE)]["events"] == 1
    assert logical[("meta#freshness", "latest")] == {"pk": "meta#freshness", "sk": "latest", "arrival#shard-a": 1}
    assert len(logical) == 5


def test_sketch_sub_items_of_every_shard_merge_into_one_sketch_per_window() -> None:
    users = [
        {"pk": "uniq#users", "sk": f"{HOUR}@shard-a", "sketch": merge_uniques(None, uniques_sketch(["u1", "u2"]))},
        {"pk": "uniq#users", "sk": f"{HOUR}@shard-b", "sketch": merge_uniques(None, uniques_sketch(["u2", "u3"]))},
    ]
    tops = [
        {"pk": "top#url", "sk": f"{HOUR}@shard-a", "sketch": merge_top(None, {"/": 3, "/cart": 1})},
        {"pk": "top#url", "sk": f"{HOUR}@shard-b", "sketch": merge_top(None, {"/": 2})},
    ]
    logical = packed.logical_items([*users, *tops])
    assert round(estimate_uniques(logical[("uniq#users", HOUR)]["sketch"]).estimate) == 3
    assert top_items(logical[("top#url", HOUR)]["sketch"], 2) == [("/", 5), ("/cart", 1)]
    assert set(logical) == {("uniq#users", HOUR), ("top#url", HOUR)}
