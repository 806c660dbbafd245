"""Stands in for the AWS APIs on the laptop: moto's own server, made atomic, without six per-request costs.

`python -m clickstream.emulated.aws_server -H 127.0.0.1 -p 4566` runs `moto.server` (same options)
after one correctness fix and six speed fixes, measured by `python -m benchmarks.aws_server` and
`python -m benchmarks.overload` (docs/BENCHMARKS.md):

- **One request changes the server's state at a time.** moto's services are not safe under
  concurrent requests (moto 5.2.5): two PutRecords on one shard can take the same sequence
  number, and the later record silently replaces the earlier one, although both were
  acknowledged; two concurrent `UpdateItem ... ADD` on one item can both read the old value,
  so one increment is lost. Every request is therefore handled under one server-wide lock
  (docs/adr/0001-serialised-aws-server.md): moto is pure Python and CPU-bound, so under the GIL
  requests never ran in parallel anyway. The request body is read from the socket before the
  lock is taken and the answer is written after it is released, so a slow client holds up no one.

- **Backend lookup, once per service.** moto routes each request to a service backend by a
  host name it infers from the signature, under one lock shared by every request
  (`DomainDispatcherApplication.get_backend_for_host`). On the way it lists moto's package
  folder (`moto.backends.list_of_moto_modules`: an `os.listdir` and an `isdir` per entry, 182
  entries in moto 5.2.5) and, for names that are not a folder (every Kinesis, S3 and SQS
  request), tries each service's URL patterns in turn. The answer depends only on the host
  name and on files that do not change while the server runs, so it is remembered per name.
  Profiled under `make up` (py-spy, moto 5.2.5) before this change, that lookup and the
  threads queueing for its lock were the largest share of moto's samples, ahead of DynamoDB's
  own work.
- **A Query reads its partition, not the table.** moto 5.2.5's `Table.query` (no index) builds
  the list of every item in the table, sorts it, and keeps the items of the queried partition:
  each Query costs time in proportion to the whole table, which grows all day under `make up`
  (every minute of traffic adds items, and moto does not expire TTL). The API queries it for
  every series, so with a dashboard open the speed layer fell 16-27 s behind (docs/BENCHMARKS.md). While a Query without an index runs, the table's `all_items` gives that thread the
  queried partition's items only, in the same order; the rest of `query` (conditions, paging,
  filters, projections) is moto's own. Other threads and other operations are unaffected.
- **GetRecords starts at its position.** moto's `Shard.get_records` walks the shard's records
  from the oldest, in Python, to find those after the iterator's position: a cost in proportion
  to everything the shard ever received (moto keeps it all), paid by every GetRecords of the
  consumer and the archiver, several a second. Here the shard's sequence numbers (ascending,
  as moto assigns them) are copied in one C-level step and bisected, and the same records,
  position and MillisBehindLatest come back.
- **PutRecords appends in constant time.** moto 5.2.5 numbers each new record by copying the
  shard's whole key list to read its last key (`Shard.get_max_sequence_number`), so every record
  put costs time in proportion to everything the shard ever received. At 1,000 events/s that
  was 71 % of the server's samples after a few minutes (py-spy, docs/BENCHMARKS.md "Sustained
  load"). Here the last (and first) key is read from the ordered dict's end: the same numbers.
- **An UpdateItem's expression is parsed once and walked cheaply.** moto 5.2.5 parses every
  UpdateExpression twice per request (the response layer and the backend), deep-copies the
  tree with the generic `copy` protocol, and runs ten tree walks that each rebuild their
  node-type → handler map at every node and test each node with ABC `isinstance` checks. The
  speed layer sends about 1.2 UpdateItems per event, so this bounds the laptop's speed layer.
  Here the parsed tree is remembered per expression text (moto only reads it or copies it),
  each walk finds a node type's handler once, and a node copies its own attributes.
- **No access log by default.** werkzeug writes a line per request to the log: about 350 lines
  a second under `make up`'s traffic, tens of MB an hour in `.clickstream/logs/aws.log`, and a
  lock taken by every request thread. Warnings and errors are still logged; `--access-log`
  brings the request lines back.

One addition: **state snapshots.** `POST /clickstream-api/snapshot` saves the server's state and
`POST /clickstream-api/restore` puts it back (`StateSnapshot`), in milliseconds; the test suite
provisions once per worker and restores before each test, instead of a reset and a new deploy.

Apart from the lock, every answer is the one `python -m moto.server` gives (the integration tests run on a server
patched this way, and tests/unit/emulated/test_aws_server.py compares Query, GetRecords and
UpdateItem answers, errors included, both ways). If a moto release renames what is patched here,
that change is skipped and the log says so.
"""

from __future__ import annotations

import argparse
import bisect
import copy
import functools
import io
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("clickstream.aws_server")


REQUEST_LOCK = threading.RLock()  # held while moto handles a request: its state changes one at a time


def _buffered_body(environ: dict[str, Any]) -> None:
    """Read the request body off the socket now, so that no client's upload is read under the lock."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream at the last chunk
        body = stream.read()
    else:
        return
    environ["wsgi.input"] = io.BytesIO(body)


def serialise_requests() -> bool:
    """Handle one request at a time (see REQUEST_LOCK); False when this moto has no such hook."""
    try:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    except ImportError:
        return False
    dispatch: Callable[[Any, dict[str, Any], Any], Any] = DomainDispatcherApplication.__call__
    if hasattr(dispatch, "__wrapped__"):
        return True

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        _buffered_body(environ)
        route = STATE_ROUTES.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if route is not None:
            with REQUEST_LOCK:
                status, text = route()
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [text.encode()]
        with REQUEST_LOCK:
            response = dispatch(self, environ, start_response)
            try:
                return [b"".join(response)]  # the body is built under the lock, sent after it
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()

    __call__.__wrapped__ = dispatch  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
    return True


class StateSnapshot:
    """The server's state, saved once and restored at will: `POST /clickstream-api/snapshot`, then
    `POST /clickstream-api/restore` (both under REQUEST_LOCK, so between two requests).

    What moto holds lives in its service backends (`BackendDict._instances`: one per service in
    use, account -> region -> backend, plus a few tables of the service's own, such as S3's
    bucket -> account). A snapshot is a deep copy of them; a restore resets the current ones as
    `/moto-api/reset` does and puts a fresh deep copy of the snapshot in their place. A
    provisioned stack (CloudFormation, DynamoDB tables, a stream, Glue tables) copies in a few
    milliseconds, where `moto-api/reset` and provisioning again take about 0.4 s: the test suite
    restores instead. Locks and conditions in the copied objects come back new and unheld.

    S3 objects are refused (409, nothing changed): moto keeps their bodies in temporary files
    that its reset closes, copies included (a restored object answered 500). Buckets are fine.
    """

    def __init__(self) -> None:
        self._saved: list[tuple[Any, Any]] | None = None  # (BackendDict, its copied state)

    def save(self) -> tuple[str, str]:
        from moto.core.base_backend import BackendDict, backend_lock

        _copyable_locks()
        with backend_lock:
            instances = list(BackendDict._instances)  # type: ignore[misc]
            objects = _s3_objects(instances)
            if objects:
                return "409 Conflict", f"state not saved: S3 objects cannot be ({', '.join(objects[:3])})\n"
            try:
                states = copy.deepcopy([_state_of(bd) for bd in instances])
            except (TypeError, copy.Error) as exc:
                return "409 Conflict", f"state not saved: part of it cannot be copied ({exc})\n"
            self._saved = list(zip(instances, states, strict=True))
        return "200 OK", f"state saved: {', '.join(sorted(bd.service_name for bd in instances))}\n"

    def restore(self) -> tuple[str, str]:
        from moto.core.base_backend import BackendDict, backend_lock
        from moto.core.model_instances import reset_model_data

        if self._saved is None:
            return "409 Conflict", "no state saved: POST /clickstream-api/snapshot first\n"
        fresh = copy.deepcopy([state for _, state in self._saved])
        with backend_lock:
            BackendDict.reset()  # what /moto-api/reset does
            reset_model_data()
            for (bd, _), (contents, tables) in zip(self._saved, fresh, strict=True):
                bd.update(contents)
                vars(bd).update(tables)
                BackendDict._instances.append(bd)  # type: ignore[misc]
        return "200 OK", "state restored\n"


def _state_of(backends: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A service's accounts, and the dict-valued attributes of its own (S3: bucket -> account)."""
    return dict(backends), {k: v for k, v in vars(backends).items() if isinstance(v, dict)}


def _s3_objects(instances: list[Any]) -> list[str]:
    found: list[str] = []
    for backends in instances:
        if backends.service_name != "s3":
            continue
        for account in backends.values():
            for region in account.values():
                for bucket in region.buckets.values():
                    found.extend(f"s3://{bucket.name}/{key}" for key in bucket.keys)
    return found


def _copyable_locks() -> None:
    """Let deepcopy copy a lock or a condition as a new, unheld one (moto's models hold a few)."""
    import copyreg

    def new_lock(lock: Any) -> tuple[Any, tuple[()]]:
        return threading.Lock, ()

    def new_rlock(lock: Any) -> tuple[Any, tuple[()]]:
        return threading.RLock, ()

    def new_condition(condition: Any) -> tuple[Any, tuple[()]]:
        # A copied Condition would keep the bound methods of its old lock (SQS's queues notify
        # on one: "cannot notify on un-acquired lock"); a new one has a lock of its own.
        return threading.Condition, ()

    copyreg.pickle(type(threading.Lock()), new_lock)
    copyreg.pickle(type(threading.RLock()), new_rlock)
    copyreg.pickle(threading.Condition, new_condition)


SNAPSHOT = StateSnapshot()
STATE_ROUTES: dict[tuple[str, str], Callable[[], tuple[str, str]]] = {
    ("POST", "/clickstream-api/snapshot"): SNAPSHOT.save,
    ("POST", "/clickstream-api/restore"): SNAPSHOT.restore,
}


def remember_backends() -> bool:
    """Memoise moto's host → backend lookup; False when this moto has no such hook."""
    try:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    except ImportError:
        return False
    lookup: Callable[[Any, str | None], Any] | None = getattr(DomainDispatcherApplication, "get_backend_for_host", None)
    if lookup is None:
        return False
    if hasattr(lookup, "__wrapped__"):
        return True
    known: dict[str, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        # moto calls this holding its dispatcher lock, so `known` needs no lock of its own.
        if host is None:
            return None
        if host not in known:
            known[host] = lookup(self, host)
        return known[host]

    get_backend_for_host.__wrapped__ = lookup  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    return True


def query_partitions() -> bool:
    """Make a Query without an index look at its partition only; False when this moto differs."""
    try:
        from moto.dynamodb.models.table import Table
    except ImportError:
        return False
    query, all_items = getattr(Table, "query", None), getattr(Table, "all_items", None)
    if query is None or all_items is None:
        return False
    if hasattr(query, "__wrapped__"):
        return True
    scope = threading.local()  # the table and partition the current thread is querying

    def partition_items(self: Any) -> Any:
        if getattr(scope, "table", None) != id(self):
            return all_items(self)
        partition: dict[Any, Any] = self.items.get(scope.hash_key) or {}
        # all_items' order (hash key, then range key), restricted to one hash key
        return sorted(partition.values(), key=lambda item: item.range_key)

    def query_partition(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes index_name as the 8th positional argument (DynamoDBBackend.query)
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return query(self, hash_key, *args, **kwargs)
        scope.table, scope.hash_key = id(self), hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            scope.table = scope.hash_key = None

    query_partition.__wrapped__ = query  # type: ignore[attr-defined]
    Table.all_items = partition_items  # type: ignore[method-assign]
    Table.query = query_partition  # type: ignore[method-assign]
    return True


def read_from_position() -> bool:
    """Make GetRecords bisect to its position instead of walking the shard; False when this moto differs."""
    try:
        from moto.kinesis.models import Shard
    except ImportError:
        return False
    walk = getattr(Shard, "get_records", None)
    if walk is None:
        return False
    if hasattr(walk, "__wrapped__"):
        return True

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        position = int(last_sequence_id)
        keys = list(self.records)  # one C-level copy: moto may append from another thread meanwhile
        start = bisect.bisect_right(keys, position)
        picked = keys[start : start + limit] if limit else keys[start:]
        if not picked:
            return [], position, 0
        records = [self.records[k] for k in picked]
        behind = self.records[keys[-1]].created_at - records[-1].created_at
        return records, picked[-1], int(behind * 1000)

    get_records.__wrapped__ = walk  # type: ignore[attr-defined]
    Shard.get_records = get_records  # type: ignore[method-assign]
    return True


def append_in_constant_time() -> bool:
    """Make PutRecord(s) find a shard's last sequence number without copying the shard; False when this moto differs."""
    try:
        from moto.kinesis.models import Shard
    except ImportError:
        return False
    newest, oldest = getattr(Shard, "get_max_sequence_number", None), getattr(Shard, "get_min_sequence_number", None)
    if newest is None or oldest is None:
        return False
    if hasattr(newest, "__wrapped__"):
        return True

    def get_max_sequence_number(self: Any) -> int:
        # moto inserts sequence numbers in ascending order: the dict's last key is the largest
        return next(reversed(self.records)) if self.records else 0

    def get_min_sequence_number(self: Any) -> int:
        return next(iter(self.records)) if self.records else 0

    get_max_sequence_number.__wrapped__ = newest  # type: ignore[attr-defined]
    get_min_sequence_number.__wrapped__ = oldest  # type: ignore[attr-defined]
    Shard.get_max_sequence_number = get_max_sequence_number  # type: ignore[method-assign]
    Shard.get_min_sequence_number = get_min_sequence_number  # type: ignore[method-assign]
    return True


def faster_update_expressions() -> bool:
    """Make moto's UpdateExpression handling cheaper, same answers; False when this moto differs.

    Three costs of every UpdateItem (py-spy and cProfile on moto 5.2.5, see ADR 0004):
    the expression is parsed twice per request (the response layer and the backend each
    parse it), each of the validator's ten tree walks rebuilds its node-type → handler map
    for every node it visits and tests each node against it with ABC `isinstance` checks,
    and the tree is copied with the generic `copy.deepcopy` protocol. Here the parse is
    remembered per expression text (the tree is only ever read or deep-copied, never
    changed), each walk looks its handler up once per node type, and a node copies its own
    attributes (`Node.__deepcopy__`, the same result as the generic copy of a plain object).
    """
    try:
        from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    except ImportError:
        return False
    make = getattr(UpdateExpressionParser, "make", None)
    walk = getattr(DepthFirstTraverser, "traverse_node_recursively", None)
    plain_hook = getattr(DepthFirstTraverser, "pre_processing_of_child", None)
    if make is None or walk is None or plain_hook is None or not hasattr(DepthFirstTraverser, "_processing_map"):
        return False
    if hasattr(walk, "__wrapped__"):
        return True
    parse = functools.lru_cache(maxsize=4096)(make.__func__)

    def make_once(cls: Any, expression: str) -> Any:
        return parse(cls, expression)

    handlers: dict[tuple[type, type], Any] = {}  # (walk's class, node's class) → map key
    unknown = object()

    def handler(self: Any, node: Any) -> Any:
        table = self.__dict__.get("_handlers")
        if table is None:
            table = self._handlers = self._processing_map()
        kind = handlers.get((type(self), type(node)), unknown)
        if kind is unknown:
            kind = handlers[(type(self), type(node))] = next((k for k in table if isinstance(node, k)), None)
        return None if kind is None else table[kind]

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        # moto's walk (depth first, children before their parent, a handler may replace the
        # node in its parent's list), with the handler found once per node type.
        if isinstance(node, Node):
            parent_node = node.parent
            if node.children is not None:
                hook = None if type(self).pre_processing_of_child is plain_hook else self.pre_processing_of_child
                for i, child_node in enumerate(node.children):
                    if hook is not None:
                        hook(node, i)
                    traverse_node_recursively(self, child_node, i)
            process = handler(self, node)
            if process is not None:
                node = process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    def node_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update((name, copy.deepcopy(value, memo)) for name, value in self.__dict__.items())
        return clone

    traverse_node_recursively.__wrapped__ = walk  # type: ignore[attr-defined]
    make_once.__wrapped__ = make  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(make_once)  # type: ignore[method-assign, assignment]
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively  # type: ignore[method-assign]
    Node.__deepcopy__ = node_deepcopy  # type: ignore[attr-defined]
    return True


FIXES: tuple[tuple[str, Callable[[], bool]], ...] = (
    ("one request at a time", serialise_requests),
    ("backend lookup", remember_backends),
    ("Query", query_partitions),
    ("GetRecords", read_from_position),
    ("PutRecords", append_in_constant_time),
    ("UpdateExpression", faster_update_expressions),
)


def patch_moto() -> list[str]:
    """Apply every fix in FIXES (idempotent); returns the names of those this moto could not take."""
    return [name for name, apply in FIXES if not apply()]


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        prog="python -m clickstream.emulated.aws_server",
        description="moto's server, one request at a time and without five per-request costs "
        "(see clickstream/emulated/aws_server.py).",
        epilog="Every other option is moto.server's: -H/--host, -p/--port, -s/--ssl, ...",
    )
    p.add_argument("--access-log", action="store_true", help="log every request (werkzeug's access log)")
    return p.parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args, moto_args = parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    skipped = patch_moto()
    if skipped:
        log.warning("this moto differs from the one these fixes were written for; not patched: %s", ", ".join(skipped))
    log.info(
        "moto: one request at a time, backend lookup remembered per host, Query reads one partition, "
        "GetRecords bisects, UpdateExpressions parsed once; access log %s",
        "on" if args.access_log else "off",
    )
    from moto.server import main as moto_main

    moto_main(moto_args)


if __name__ == "__main__":
    main()
