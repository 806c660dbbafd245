"""`make demo`: the pipeline end to end on the embedded stack, and proof of what it computed.

Steps: bring the stack up; simulate users through the HTTP collector into Kinesis (plus a few
legacy-shaped and invalid requests, to show both doors and the bad-rows store); a short run
straight into Kafka, archived by a Kafka archiver; wait for the raw archive to hold every
accepted event; count what S3 holds independently of what the senders said; stop the stack
unless asked to keep it. A mismatch between the two sides is an error (exit 1).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from clickstream import constants as c
from clickstream.settings import Settings
from clickstream.simulate.history import parse_duration

Notify = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    users: int = 200
    duration: float = 30.0  # seconds of paced traffic through the collector
    rate: float = 300.0  # events per second through the collector
    kafka_events: int = 1000  # events sent straight to Kafka (the producer path)
    seed: int | None = None  # random when None (printed, so a run can be repeated)
    keep: bool = False  # leave the stack running afterwards
    archive_timeout: float = 90.0
    speed_timeout: float = 60.0  # how long the real-time counters may take to catch up after the archive
    # the lake's past, backfilled through Airflow before the live traffic ("0": none); see local.history
    history: str = "7d"
    history_users: int = 3000


@dataclass
class RawCount:
    objects: int = 0
    lines: int = 0
    ids: Counter[str] = field(default_factory=Counter)


@dataclass
class DemoResult:
    seed: int
    elapsed_s: float
    collector: dict[str, Any]
    legacy_and_invalid: dict[str, Any]
    kafka: dict[str, Any]
    raw_kinesis: dict[str, int]
    raw_kafka: dict[str, int]
    bad_rows: dict[str, Any]
    checks: dict[str, bool]
    stack_stopped: bool
    speed: dict[str, Any] = field(default_factory=dict)  # real-time counters, freshness, their check
    batch: dict[str, Any] = field(default_factory=dict)  # DAG runs, quality, batch metrics, drift, queries
    history: dict[str, Any] = field(default_factory=dict)  # the simulated past and its backfill (local.history)
    urls: dict[str, str] = field(default_factory=dict)  # dashboard, API, Airflow (when --keep)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()} | {"ok": self.ok}


class _IdRecorder:
    """Wraps a sink and keeps the ids of what it accepted (the collector returns them)."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.ids: Counter[str] = Counter()

    def send(self, batch: list[dict[str, Any]]) -> Any:
        result = self._sink.send(batch)
        self.ids.update(result.event_ids)
        return result

    def close(self) -> None:
        self._sink.close()


def run_demo(settings: Settings, options: DemoOptions, notify: Notify) -> DemoResult:
    from clickstream.local.stack import LocalStack

    started = time.monotonic()
    began_at = datetime.now(UTC)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(1, 2**31)
    stack = LocalStack(settings, notify=notify)
    was_running = {s.name for s in stack.status() if s.running}
    notify("==> starting the embedded stack")
    # The Airflow scheduler runs the history's backfill, started with the rest (in parallel) and
    # stopped after it: the live part runs its DAGs itself, for exactly the hours its traffic arrived
    # in (`clickstream airflow run`); a scheduler catching up meanwhile would compete for them.
    with_history = parse_duration(options.history).total_seconds() > 0
    services = [s.name for s in stack.specs if s.default and (s.name != "airflow" or with_history)]
    report = stack.up(services, transport="kinesis")
    collector_url = report.url("collector") or f"http://127.0.0.1:{settings.collector_port}"
    stopped = False
    try:
        history = _history(settings, stack, options, seed, notify, airflow_was_running="airflow" in was_running)
        began_at = datetime.now(UTC)  # the live part: what the checks below count
        from clickstream.local.demo_speed import FreshnessProbe, counters_reader

        probe = FreshnessProbe(counters_reader(settings), shards=settings.shard_count)
        probe.start()  # freshness under load: sampled while the simulator sends
        notify(f"==> simulating {options.users} users for {options.duration:.0f} s through {collector_url}")
        try:
            collector, collector_ids = _collector_run(settings, collector_url, options, seed)
        finally:
            probe.stop()
        notify("==> sending legacy-shaped and invalid requests (they must be kept, with reasons)")
        legacy, legacy_ids = _legacy_and_invalid(settings, collector_url)
        notify(f"==> sending {options.kafka_events} events straight to Kafka, then archiving the topic")
        kafka, kafka_ids = _kafka_run(settings, options, seed)
        expected_kinesis = collector_ids + legacy_ids
        notify("==> waiting for the raw archive to hold every accepted event")
        kinesis_names = re.compile(re.escape(settings.names.stream) + r"-shardId-\d+-")
        kafka_names = re.compile(re.escape(settings.names.topic) + r"-\d+-")
        both = re.compile(f"{kinesis_names.pattern}|{kafka_names.pattern}")
        raw_kinesis = _wait_for_archive(settings, kinesis_names, expected_kinesis, options.archive_timeout)
        raw_kafka = _count_raw(settings, kafka_names)
        bad = _count_bad_rows(settings)
        notify("==> waiting for the real-time counters to equal a recomputation from the raw archive")
        speed = _speed_layer(settings, both, probe, options.speed_timeout)
        notify(
            "==> batch layer: compact_raw_events for each arrival hour, then batch_metrics and reconcile_speed_batch"
        )
        from clickstream.local.demo_batch import run_batch

        batch = run_batch(settings, began_at, _next_hour(datetime.now(UTC)), notify, history=history.get("history"))
        urls = {name: url for name in ("api", "airflow") if (url := report.url(name))}
    finally:
        if not options.keep and not was_running:
            notify("==> stopping the embedded stack (--keep leaves it running)")
            stack.down()
            stopped = True
    checks = {
        "every accepted Kinesis event is in S3 raw, as often as it was sent": _holds(raw_kinesis.ids, expected_kinesis),
        "every accepted Kafka event is in S3 raw, as often as it was sent": _holds(raw_kafka.ids, kafka_ids),
        "every rejected event is in the bad-rows store": bad["rows"] >= legacy["rejected"] + collector["rejected"],
        "the real-time counters (Kinesis + Kafka) equal a recomputation from the raw archive": speed[
            "counters_match_raw_archive"
        ],
        "the curated events table holds every archived event exactly once": batch["curated"]["events"]
        == batch["curated"]["ids"]
        == len(raw_kinesis.ids.keys() | raw_kafka.ids.keys()),
        **_history_checks(history, batch),
        "every compaction run passed data quality (nothing quarantined)": batch["quality"]["failed_runs"] == 0
        and batch["quality"]["quarantined"] == 0,
        "reconciliation: the batch layer agrees with the speed layer (zero drift)": batch["reconciliation"].get(
            "mismatches"
        )
        == 0,
    }
    return DemoResult(
        seed=seed,
        elapsed_s=round(time.monotonic() - started, 1),
        collector=collector,
        legacy_and_invalid=legacy,
        kafka=kafka,
        raw_kinesis=_raw_summary(raw_kinesis),
        raw_kafka=_raw_summary(raw_kafka),
        bad_rows=bad,
        checks=checks,
        stack_stopped=stopped,
        speed=speed,
        batch=batch,
        urls={} if stopped else urls,
        history=history,
    )


def _history(
    settings: Settings,
    stack: Any,
    options: DemoOptions,
    seed: int,
    notify: Notify,
    *,
    airflow_was_running: bool,
) -> dict[str, Any]:
    """The lake's past (`clickstream simulate --history`): written into the raw archive, then
    compacted by an Airflow backfill and the metrics DAGs it schedules. Airflow's scheduler runs
    only for this: the live part runs its DAGs itself, for exactly the hours its traffic arrived in."""
    from clickstream.local.history import load_history
    from clickstream.simulate.history import HistoryConfig

    duration = parse_duration(options.history)
    if duration.total_seconds() <= 0:
        return {}
    config = HistoryConfig(
        end=datetime.now(UTC).replace(minute=0, second=0, microsecond=0),
        duration=duration,
        users=options.history_users,
        seed=seed + 2,
    )
    try:
        return load_history(settings, config, notify)
    finally:
        if not airflow_was_running:
            stack.down(only=["airflow"])


def _history_checks(history: dict[str, Any], batch: dict[str, Any]) -> dict[str, bool]:
    if not history:
        return {}
    cur = batch["history_curated"]
    return {
        "the history's events are in the curated table exactly once (backfilled through Airflow)": cur["events"]
        == cur["ids"]
        == history["history"]["distinct"]
    }


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _collector_run(
    settings: Settings, url: str, options: DemoOptions, seed: int
) -> tuple[dict[str, Any], Counter[str]]:
    from clickstream.simulate.generator import SimConfig
    from clickstream.simulate.run import run_simulation
    from clickstream.simulate.sinks import CollectorSink

    events = int(options.rate * options.duration)
    config = SimConfig(
        start=datetime.now(UTC),
        users=options.users,
        events=events,
        seed=seed,
        span=timedelta(seconds=options.duration),
        late_fraction=0.02,
        duplicate_fraction=0.01,
    )
    sink = _IdRecorder(CollectorSink(url, settings.write_key or c.LOCAL_WRITE_KEY))
    summary = run_simulation(config, sink, rate=options.rate, duration=options.duration + 30)
    return summary.as_dict(), sink.ids


def _legacy_and_invalid(settings: Settings, url: str) -> tuple[dict[str, Any], Counter[str]]:
    """Requests shaped like older clickstream tools send them, and a batch with bad records."""
    import httpx

    now = datetime.now(UTC).isoformat()
    headers = {"x-write-key": settings.write_key or c.LOCAL_WRITE_KEY}
    requests: list[tuple[str, Any]] = [
        (
            "/events",
            {
                "records": [
                    {
                        "event_type": "page_view",
                        "user_id": "legacy_user",
                        "session_id": "legacy_session",
                        "timestamp": now,
                        "properties": {"page": "/products", "referrer": "google.com"},
                    }
                ]
            },
        ),
        ("/track", {"user_id": "legacy_user", "page_url": "/home", "event_type": "click", "ip_address": "192.168.1.1"}),
        (
            "/v1/events",
            [
                {"event_type": "page_view", "user_id": "u_ok", "timestamp": now, "url": "/ok"},
                {"event_type": "teleport", "user_id": "u_bad", "timestamp": now},
                {"event_type": "purchase", "user_id": "u_bad", "timestamp": now, "price": -5},
                {"event_type": "click", "timestamp": "yesterday-ish"},
            ],
        ),
    ]
    ids: Counter[str] = Counter()
    accepted = rejected = 0
    reasons: Counter[str] = Counter()
    with httpx.Client(base_url=url, headers=headers, timeout=10, trust_env=False) as client:
        for path, body in requests:
            response = client.post(path, content=orjson.dumps(body), headers={"content-type": "application/json"})
            verdict = response.json()
            accepted += int(verdict.get("accepted", 0))
            rejected += int(verdict.get("rejected", 0))
            ids.update(verdict.get("event_ids") or ())
            reasons.update(err["reason"] for err in verdict.get("errors") or ())
    return {
        "requests": len(requests),
        "accepted": accepted,
        "rejected": rejected,
        "errors_by_reason": dict(reasons),
    }, ids


def _kafka_run(settings: Settings, options: DemoOptions, seed: int) -> tuple[dict[str, Any], Counter[str]]:
    from clickstream.emulated.firehose.archiver import build_archiver
    from clickstream.emulated.firehose.batching import FlushPolicy
    from clickstream.simulate.generator import SimConfig
    from clickstream.simulate.run import run_simulation
    from clickstream.simulate.sinks import StreamSink

    kafka_settings = replace(Settings.from_env(), transport="kafka")
    config = SimConfig(
        start=datetime.now(UTC) - timedelta(minutes=10),
        users=max(20, options.users // 4),
        events=options.kafka_events,
        seed=seed + 1,
        span=timedelta(minutes=10),
    )
    sink = _IdRecorder(StreamSink(kafka_settings))
    summary = run_simulation(config, sink)
    archiver = build_archiver(kafka_settings, transport="kafka", policy=FlushPolicy(max_age_seconds=1.0))
    stats = archiver.run(threading.Event(), until_idle=3.0, progress_seconds=60.0)
    speed = _consume_kafka(kafka_settings)
    out = summary.as_dict() | {
        "archived_records": stats.records_archived,
        "archive_objects": stats.objects_written,
        "speed_layer_records": speed,
    }
    return out, sink.ids


def _consume_kafka(kafka_settings: Settings) -> int:
    """The speed layer over the topic (the same handler as the Kinesis consumer), until it is idle.

    Both transports feed one realtime table, so the batch layer's reconciliation compares like
    with like: every archived event was also counted by the speed layer.
    """
    from clickstream.emulated.event_source_mapping.invoke import DEFAULT_HANDLER, load_handler
    from clickstream.emulated.event_source_mapping.kafka import build_kafka_consumer
    from clickstream.emulated.event_source_mapping.options import ConsumerOptions

    consumer = build_kafka_consumer(kafka_settings, load_handler(DEFAULT_HANDLER), options=ConsumerOptions())
    return int(consumer.run(threading.Event(), until_idle=3.0).records)


def _holds(stored: Counter[str], sent: Counter[str]) -> bool:
    """S3 holds each sent id exactly as many times as it was accepted (producer duplicates are kept
    in raw on purpose: the batch layer deduplicates; replays must not add more)."""
    return all(stored[event_id] == n for event_id, n in sent.items())


def _wait_for_archive(settings: Settings, source: re.Pattern[str], expected: Counter[str], timeout: float) -> RawCount:
    deadline = time.monotonic() + timeout
    while True:
        count = _count_raw(settings, source)
        if not (expected - count.ids) or time.monotonic() > deadline:
            return count
        time.sleep(1.0)


def _count_raw(settings: Settings, source: re.Pattern[str]) -> RawCount:
    """Objects, lines and event ids under raw/events/ whose object name matches `source`
    (`<stream>-shardId-…` for Kinesis, `<topic>-<partition>-…` for Kafka)."""
    from clickstream.adapters.s3 import lake_bucket

    lake = lake_bucket(settings)
    count = RawCount()
    for key in lake.list_keys(c.RAW_EVENTS_PREFIX + "/"):
        if not source.match(key.rsplit("/", 1)[-1]):
            continue
        count.objects += 1
        lines = lake.get_ndjson_gz(key)
        count.lines += len(lines)
        count.ids.update(_ids(lines))
    return count


def _speed_layer(settings: Settings, source: re.Pattern[str], probe: Any, timeout: float) -> dict[str, Any]:
    """The counters for the run's hour, freshness p50/p99, and the check against the raw archive."""
    from clickstream.adapters.s3 import lake_bucket
    from clickstream.local import demo_speed

    lake = lake_bucket(settings)
    lines = [
        line
        for key in lake.list_keys(c.RAW_EVENTS_PREFIX + "/")
        if source.match(key.rsplit("/", 1)[-1])
        for line in lake.get_ndjson_gz(key)
    ]
    truth = demo_speed.recompute(lines)
    reader = demo_speed.counters_reader(settings)
    counters, equal, waited = demo_speed.wait_for_counters(reader, truth, timeout)
    samples = probe.join()
    return {
        "counters_match_raw_archive": equal,
        "waited_s": waited,
        "realtime": demo_speed.headline(reader, datetime.now(UTC)),
        "freshness": demo_speed.percentiles(samples) | {"unresolved": probe.unresolved},
        "raw_archive": demo_speed.plain(truth),
        "counters": demo_speed.plain(counters),
    }


def _ids(lines: Iterable[bytes]) -> Iterable[str]:
    for line in lines:
        yield str(orjson.loads(line)["event_id"])


def _count_bad_rows(settings: Settings) -> dict[str, Any]:
    from clickstream.adapters.s3 import lake_bucket

    lake = lake_bucket(settings)
    objects = rows = 0
    reasons: Counter[str] = Counter()
    for key in lake.list_keys(c.RAW_BAD_PREFIX + "/"):
        objects += 1
        for line in lake.get_ndjson_gz(key):
            rows += 1
            reasons[orjson.loads(line)["reason"]] += 1
    return {"objects": objects, "rows": rows, "by_reason": dict(reasons)}


def _raw_summary(count: RawCount) -> dict[str, int]:
    return {"objects": count.objects, "events": count.lines, "distinct_event_ids": len(count.ids)}
