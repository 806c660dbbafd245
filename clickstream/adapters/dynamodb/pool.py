"""A DynamoDB table keyed by (pk, sk) that many threads write at once: retried, counted calls,
a bounded fan-out pool, and the reads (GetItem, BatchGetItem, Query).

Throttling and transient errors are retried here with jittered backoff, after botocore's own
retries, and then raised as RetryableError; any other ClientError (a ConditionalCheckFailed...)
is re-raised for the subclass that set the condition. `_map` fans one call per item out on the
pool and lets every call finish before it raises, so no write is left running behind a failed
batch. `requests` counts the calls sent, by operation. The realtime table
(`clickstream.adapters.dynamodb.counters.CountersTable`) is built on it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from clickstream.adapters.aws_errors import RETRYABLE_CODES, error_code
from clickstream.errors import RetryableError

BATCH_GET_MAX: Final = 100  # DynamoDB: at most 100 keys per BatchGetItem
DEFAULT_WORKERS: Final = 8  # concurrent calls per fan-out (the client pool holds 32)
MAX_ATTEMPTS: Final = 6  # per request, on throttling, after botocore's own retries

Key = tuple[str, str]  # (pk, sk), as clickstream.metrics.aggregate.Key
T = TypeVar("T")
R = TypeVar("R")


class PooledTable:
    """One (pk, sk) table behind an injected client (`_clients.client("dynamodb", settings)`). Thread-safe."""

    _thread_name_prefix: ClassVar[str] = "dynamodb"

    def __init__(
        self,
        name: str,
        *,
        client: Any,
        workers: int = DEFAULT_WORKERS,
        max_attempts: int = MAX_ATTEMPTS,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._client = client
        self._workers = workers
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # calls sent, by operation (benchmarks read it)

    # --- reads ------------------------------------------------------------------------------

    def get_items(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """Items by key (BatchGetItem, 100 keys a call); missing items are absent from the result."""
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        wanted = list(dict.fromkeys(keys))
        out: dict[Key, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            request = {
                self.name: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + BATCH_GET_MAX]]
                }
            }
            for attempt in range(self._max_attempts):
                response = self._call("batch_get_item", RequestItems=request)
                for raw in response.get("Responses", {}).get(self.name, []):
                    item = {name: deserialize(value) for name, value in raw.items()}
                    out[(item["pk"], item["sk"])] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._sleep(self._delay(attempt))
            else:
                raise RetryableError(f"{self.name}: BatchGetItem kept returning unprocessed keys")
        return out

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        """Every item of `pk` whose sk starts with `sk_prefix`, in sk order."""
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": pk}},
        }
        if sk_prefix:  # DynamoDB refuses an empty begins_with operand
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :s)"
            kwargs["ExpressionAttributeValues"][":s"] = {"S": sk_prefix}
        out: list[dict[str, Any]] = []
        while True:
            response = self._call("query", **kwargs)
            out.extend({name: deserialize(value) for name, value in raw.items()} for raw in response["Items"])
            if "LastEvaluatedKey" not in response:
                return out
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    # --- plumbing ---------------------------------------------------------------------------

    def _get(self, key: Key, *, consistent: bool) -> dict[str, Any] | None:
        response = self._call(
            "get_item", TableName=self.name, Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}}, ConsistentRead=consistent
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """One DynamoDB call; throttling and transient errors are retried with jittered backoff,
        then raised as RetryableError. Anything else (a ConditionalCheckFailed...) is re-raised."""
        method = getattr(self._client, operation)
        for attempt in range(self._max_attempts):
            with self._lock:
                self.requests[operation] += 1
            try:
                return method(**kwargs)
            except ClientError as exc:
                code = error_code(exc)
                if code not in RETRYABLE_CODES:
                    raise
                if attempt + 1 == self._max_attempts:
                    raise RetryableError(
                        f"DynamoDB {operation} on {self.name}: {code} after {self._max_attempts} attempts",
                        retry_after=self._delay(attempt),
                    ) from exc
            except BotoCoreError as exc:  # connection errors, timeouts
                if attempt + 1 == self._max_attempts:
                    raise RetryableError(f"DynamoDB {operation} on {self.name}: {exc}") from exc
            self._sleep(self._delay(attempt))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int) -> float:
        return random.uniform(0, min(5.0, self._base_delay * 2**attempt))  # "full jitter"

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items on the bounded pool; every call finishes before an error is raised
        (a non-retryable one first), so no write is left running behind a failed batch."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        futures: list[Future[R]] = [self._executor().submit(fn, item) for item in items]
        results: list[R] = []
        retryable: RetryableError | None = None
        fatal: BaseException | None = None
        for future in futures:
            exc = future.exception()
            if exc is None:
                results.append(future.result())
            elif isinstance(exc, RetryableError):
                retryable = retryable or exc
            else:
                fatal = fatal or exc
        if fatal is not None:
            raise fatal
        if retryable is not None:
            raise retryable
        return results

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._thread_name_prefix)
            return self._pool
