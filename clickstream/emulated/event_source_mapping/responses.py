"""How an event source mapping reads a handler's answer (partial batch responses). Pure.

Lambda's rules ("Configuring partial batch response with Kinesis Data Streams and Lambda"):
the batch is a complete success when the function returns nothing, an empty object, or a null or
empty `batchItemFailures` list; it is a complete failure when the function raises, or when an
item has an empty or null `itemIdentifier` or a bad key name. Otherwise the record with the
lowest failed position becomes the checkpoint and everything from it on is retried. Anything
else we cannot read (an identifier that is not in the batch, a non-object answer) also counts
as a complete failure: retrying is always safe against the handler's exactly-once writes,
skipping never is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_SEPARATORS = (":", "@", "/")  # never in a Kafka topic name ([a-zA-Z0-9._-])


@dataclass(frozen=True)
class Verdict:
    """The outcome of one invocation for one shard or partition."""

    failed: bool
    first_failed: int | None = None  # lowest failed position; None with failed=True: the whole batch
    reason: str = ""


SUCCESS = Verdict(False)


def kinesis_verdict(response: object, positions: Sequence[int]) -> Verdict:
    """The verdict for a Kinesis batch whose sequence numbers are `positions` (ascending)."""
    items = _failure_items(response)
    if isinstance(items, Verdict):
        return items
    if not items:
        return SUCCESS
    failed: list[int] = []
    for ident in items:
        try:
            failed.append(int(ident))
        except ValueError:
            return _whole(f"itemIdentifier {ident!r} is not a sequence number")
    known = set(positions)
    unknown = [p for p in failed if p not in known]
    if unknown:
        return _whole(f"itemIdentifier {unknown[0]} is not in the batch")
    return Verdict(True, min(failed), f"{len(set(failed))} of {len(positions)} records reported as failed")


@dataclass(frozen=True)
class KafkaVerdict:
    """The outcome of one invocation over several partitions."""

    whole: Verdict | None = None  # set when the whole batch failed
    first_failed: dict[str, int] = field(default_factory=dict)  # partition id -> lowest failed offset
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.whole is not None or bool(self.first_failed)


def kafka_verdict(response: object, offsets: Mapping[str, Sequence[int]]) -> KafkaVerdict:
    """The verdict for a Kafka batch: `offsets` maps each partition id (`<topic>-<n>`) to its offsets.

    An identifier names a record as `<topic>-<n>:<offset>` (also `@` or `/`), or as a bare offset;
    a bare offset marks that offset failed in every partition of the batch that holds it (some
    successful records are retried, which the handler's watermarks make harmless).
    """
    items = _failure_items(response)
    if isinstance(items, Verdict):
        return KafkaVerdict(whole=items, reason=items.reason)
    if not items:
        return KafkaVerdict()
    held = {pid: set(offs) for pid, offs in offsets.items()}
    first: dict[str, int] = {}
    for ident in items:
        pid, offset = _split_identifier(ident)
        if offset is None:
            whole = _whole(f"itemIdentifier {ident!r} is not an offset")
            return KafkaVerdict(whole=whole, reason=whole.reason)
        hits = [p for p, offs in held.items() if offset in offs and (pid is None or p == pid)]
        if not hits:
            whole = _whole(f"itemIdentifier {ident!r} is not in the batch")
            return KafkaVerdict(whole=whole, reason=whole.reason)
        for p in hits:
            first[p] = min(offset, first.get(p, offset))
    return KafkaVerdict(first_failed=first, reason=f"{len(items)} records reported as failed")


def _failure_items(response: object) -> list[str] | Verdict:
    """The itemIdentifiers of a response, or a whole-batch failure Verdict when it is malformed."""
    if response is None:
        return []
    if not isinstance(response, dict):
        return _whole(f"the handler returned a {type(response).__name__}, not an object")
    items = response.get("batchItemFailures")
    if items is None:
        return []
    if not isinstance(items, list):
        return _whole("batchItemFailures is not a list")
    out: list[str] = []
    for item in items:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            return _whole(f"batch item failure without itemIdentifier: {item!r}")
        ident = item["itemIdentifier"]
        if ident is None or ident == "":
            return _whole("empty or null itemIdentifier")
        out.append(str(ident))
    return out


def _split_identifier(ident: str) -> tuple[str | None, int | None]:
    for sep in _SEPARATORS:
        if sep in ident:
            pid, _, tail = ident.rpartition(sep)
            return pid, _int(tail)
    return None, _int(ident)


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _whole(reason: str) -> Verdict:
    return Verdict(True, None, reason)
