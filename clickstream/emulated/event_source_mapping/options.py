"""The settings of an event source mapping that both consumers share, validated like Lambda does."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from clickstream.emulated.event_source_mapping.events import BATCH_SIZE_MAX, BATCHING_WINDOW_MAX_SECONDS
from clickstream.emulated.event_source_mapping.retry import RetryPolicy
from clickstream.lambda_context import DEFAULT_FUNCTION_TIMEOUT_SECONDS

FUNCTION_NAME = "stream-processor"
CONSUMER = "stream-processor"  # names this consumer's checkpoints, leases and Kafka group
DEFAULT_BATCH_SIZE = 100  # Lambda's default for Kinesis and Kafka
DEFAULT_LEASE_SECONDS = 10.0


@dataclass(frozen=True)
class ConsumerOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_window: float = 0.0  # MaximumBatchingWindowInSeconds: 0 = invoke as soon as records are there
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = DEFAULT_LEASE_SECONDS  # Kinesis: a dead worker's shards move after this long
    progress_seconds: float = 5.0  # progress and lag logged at INFO this often
    function_name: str = FUNCTION_NAME
    function_timeout: float = DEFAULT_FUNCTION_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= BATCH_SIZE_MAX:
            raise ValueError(f"batch size must be 1..{BATCH_SIZE_MAX}, got {self.batch_size}")
        if not 0 <= self.batch_window <= BATCHING_WINDOW_MAX_SECONDS:
            raise ValueError(f"batching window must be 0..{BATCHING_WINDOW_MAX_SECONDS:.0f} s, got {self.batch_window}")
        if self.lease_seconds <= 0 or self.progress_seconds <= 0 or self.function_timeout <= 0:
            raise ValueError("lease, progress and timeout durations must be positive")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command-line options both consumers take."""
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="records per invocation (1..10000)")
    p.add_argument("--batch-window", type=float, default=0.0, metavar="SECONDS", help="batching window (0..300)")
    p.add_argument("--max-retries", type=int, default=RetryPolicy.max_retries, help="retries before the DLQ")
    p.add_argument("--handler", metavar="MODULE:FUNCTION", help="default: lambdas.stream_processor.handler:handler")
    p.add_argument("--until-idle", type=float, metavar="SECONDS", help="exit once drained and idle this long")
    p.add_argument("--progress-seconds", type=float, default=5.0, help="log progress and lag this often (INFO)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def options_from_args(args: argparse.Namespace) -> ConsumerOptions:
    """ConsumerOptions from `add_arguments`' options (ValueError when one is out of range)."""
    return ConsumerOptions(
        batch_size=args.batch_size,
        batch_window=args.batch_window,
        retry=RetryPolicy(max_retries=args.max_retries),
        lease_seconds=getattr(args, "lease_seconds", DEFAULT_LEASE_SECONDS),
        progress_seconds=args.progress_seconds,
    )
