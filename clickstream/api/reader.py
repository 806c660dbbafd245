"""Reads for the serving rule: speed items from the realtime table, batch items from the batch view.

One Query per (pk, key prefix): a series of N windows costs a handful of requests whatever N
(`_prefixes` picks the longest sort-key prefix that covers the windows in a few queries).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from clickstream.api.serving import Items, Key, closed_windows
from clickstream.metrics import definitions as d
from clickstream.metrics.windows import MINUTE

_PREFIX_LENGTHS = {"m": (15, 12, 9), "h": (12, 9, 6), "d": (9, 6, 2)}  # hour, day, month, year, all
_MAX_PREFIXES = 3
_WORKERS = 8


class SpeedSource(Protocol):
    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]: ...

    def get_items(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]: ...


class BatchSource(Protocol):
    def query(self, pk: str, sk_from: str | None = None, sk_to: str | None = None) -> list[dict[str, Any]]: ...


@dataclass
class Windows:
    speed: Items
    batch: Items
    closed: set[str]


class ServingReader:
    def __init__(self, speed: SpeedSource, batch: BatchSource) -> None:
        self.speed = speed
        self.batch = batch

    def windows(self, pks: Iterable[str], res: str, sks: Sequence[str]) -> Windows:
        """Speed and batch items of `pks` for the windows `sks` (one resolution, sorted)."""
        if not sks:
            return Windows({}, {}, set())
        wanted = set(sks)
        pks = sorted(set(pks))
        jobs: list[tuple[str, str, str]] = [("speed", pk, p) for pk in pks for p in _prefixes(res, sks)]
        if res != MINUTE:  # the batch view keeps hours and days only
            jobs += [("batch", pk, "") for pk in {*pks, d.ALL}]
        first, last = sks[0], sks[-1]

        def run(job: tuple[str, str, str]) -> tuple[str, list[dict[str, Any]]]:
            layer, pk, prefix = job
            if layer == "speed":
                return layer, self.speed.query(pk, prefix)
            return layer, self.batch.query(pk, first, last)

        speed: dict[Key, dict[str, Any]] = {}
        batch: dict[Key, dict[str, Any]] = {}
        with ThreadPoolExecutor(min(_WORKERS, len(jobs))) as pool:
            for layer, items in pool.map(run, jobs):
                into = speed if layer == "speed" else batch
                into.update({(i["pk"], i["sk"]): i for i in items if i["sk"] in wanted})
        closed = closed_windows(item for (pk, _), item in batch.items() if pk == d.ALL)
        return Windows(speed, batch, closed)

    def day_windows(self, pks: Iterable[str], days: Sequence[str] | None = None) -> tuple[Windows, list[str]]:
        """Day items of `pks` (all days when `days` is None) and the sorted day sks found or asked."""
        pks = sorted(set(pks))
        if days is not None:
            sks = [f"d#{day}T00:00:00Z" for day in days]
            return self.windows(pks, "d", sks), sks

        def run(job: tuple[str, str]) -> list[dict[str, Any]]:
            layer, pk = job
            return self.speed.query(pk, "d#") if layer == "speed" else self.batch.query(pk, "d#0", "d#9")

        jobs = [("speed", pk) for pk in pks] + [("batch", pk) for pk in {*pks, d.ALL}]
        speed: dict[Key, dict[str, Any]] = {}
        batch: dict[Key, dict[str, Any]] = {}
        with ThreadPoolExecutor(min(_WORKERS, len(jobs))) as pool:
            for (layer, _), items in zip(jobs, pool.map(run, jobs), strict=True):
                (speed if layer == "speed" else batch).update({(i["pk"], i["sk"]): i for i in items})
        closed = closed_windows(item for (pk, _), item in batch.items() if pk == d.ALL)
        sks = sorted({sk for _, sk in speed} | {sk for _, sk in batch})
        return Windows(speed, batch, closed), sks


def _prefixes(res: str, sks: Sequence[str]) -> list[str]:
    """The longest sk prefixes that cover `sks` in at most a few queries (the shortest otherwise)."""
    lengths = _PREFIX_LENGTHS[res]
    for length in lengths:
        found = sorted({sk[:length] for sk in sks})
        if len(found) <= _MAX_PREFIXES:
            return found
    return sorted({sk[: lengths[-1]] for sk in sks})
