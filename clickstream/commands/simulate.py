"""`clickstream simulate`: send realistic, reproducible traffic to the collector, the stream or a file."""

from __future__ import annotations

import math
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from clickstream.simulate.traffic import DEFAULT_SECOND_TAB_SHARE

if TYPE_CHECKING:
    from clickstream.settings import Settings
    from clickstream.simulate.run import SimSummary
    from clickstream.simulate.sinks import Event, SendResult, Sink

DEFAULT_EVENTS = 1000
DEFAULT_SPAN_S = 3600
EVENTS_PER_USER = 20  # auto-sized user pool: about one user per 20 events ...
MIN_USERS = 50
USERS_PER_EPS = 100  # ... and, when paced, enough for the sessions under way at that rate
# --forever runs in rounds of an hour of traffic, each starting its timeline at the current time:
# timestamps cannot drift from the clock for longer than a round, however slow the sink was.
ROUND_S = 3600
PROGRESS_EVERY_S = 10.0  # --forever prints a progress line this often (the service log shows it)
RETRY_AFTER_S = 5.0  # --forever: wait this long after the sink failed (a restarting collector)


@click.command(name="simulate")
@click.option(
    "--sink",
    type=click.Choice(["collector", "kinesis", "kafka", "file"]),
    default="collector",
    show_default=True,
    help="Where events go: the HTTP collector; the stream directly (validated locally); or NDJSON to --output.",
)
@click.option("--url", help="Collector base URL (collector sink).  [default: http://127.0.0.1:<collector port>]")
@click.option("--write-key", help="Collector write key.  [default: $CLICKSTREAM_WRITE_KEY, or the local key]")
@click.option("--output", default="-", show_default=True, help="NDJSON file for the file sink; '-' is stdout.")
@click.option("--users", type=click.IntRange(min=1), help="Users at the start (the returning population).  When "
              "every one tried is in a session, a new user arrives, so no --rate forces one person into parallel "
              "sessions; the summary says how many visited.  [default: events/20, at least 50; with --rate at least "
              "100 x rate]")  # fmt: skip
@click.option("--second-tab-share", type=click.FloatRange(0, 1, max_open=True), default=DEFAULT_SECOND_TAB_SHARE,
              show_default=True, help="Of the sessions that find every user tried busy, the share that opens a "
              "second tab (another session id) of a busy user instead of bringing a new one.")  # fmt: skip
@click.option(
    "--events", type=click.IntRange(min=0), help=f"Events to send.  [default: {DEFAULT_EVENTS}, or rate x duration]"
)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Pace sending at this many events/s, with "
              "timestamps close to the send time.  [default: as fast as the sink takes them]")  # fmt: skip
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds "
              "(or at --events, whichever comes first).  [default: no time limit]")  # fmt: skip
@click.option(
    "--span",
    type=click.FloatRange(min=0, min_open=True),
    help=f"Seconds of event time the timestamps cover without --rate (traffic follows the time of day).  "
    f"[default: {DEFAULT_SPAN_S}; with --rate: events/rate]",
)
@click.option("--seed", type=int, help="Random seed: same seed and options give the same events.  [default: random]")
@click.option(
    "--start",
    help="Timestamp of the first event, ISO 8601 (naive = UTC).  [default: now; without --rate now - span, "
    "so no event is in the future]",
)
@click.option("--error-rate", type=click.FloatRange(0, 1, max_open=True), default=0.02, show_default=True,
              help="Share of events that are HTTP errors (404 dead product pages, 500 on search/checkout).")  # fmt: skip
@click.option("--late-fraction", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Share of events sent minutes to hours after their timestamp (a mobile app flushing late).  "
              "[default: 0; with --history 0.02]")  # fmt: skip
@click.option("--duplicate-fraction", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Share of sent events that are exact resends (same event_id), as producer retries.  "
              "[default: 0; with --history 0.01]")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(1, 500), default=500, show_default=True,
              help="Events per send (the collector takes at most 500 per request).")  # fmt: skip
@click.option("--forever", is_flag=True, help="Keep sending at --rate until stopped (Ctrl-C or SIGTERM), with a "
              "progress line every 10 s; a failing sink is retried.  Not with --events or --duration.")  # fmt: skip
@click.option("--history", metavar="DURATION", help="Instead of live traffic: simulate the DURATION before this "
              "hour (7d, 36h, 90m) at full speed into the raw archive's arrival hours, as if it had arrived live, "
              "then compact it with an Airflow backfill of compact_raw_events_daily (the local Airflow: `make up`). "
              "--users defaults to 3000 returning users, --events to 400 an hour on average.")  # fmt: skip
@click.option("--no-backfill", is_flag=True, help="With --history: only write the raw archive (backfill it later "
              "from the Airflow UI).")  # fmt: skip
@click.option("--airflow-url", help="With --history: the Airflow to backfill through.  [default: the local one]")
@click.option("--quiet", is_flag=True, help="No progress bar and no summary table.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (stdout; stderr if events go there).")
def simulate(**opts: Any) -> None:
    """Send realistic shop traffic: personas, sessions, carts, orders, errors, a daily rhythm.

    \b
    Examples:
      clickstream simulate                                  1000 events to the local collector
      clickstream simulate --rate 50 --duration 60          50 events/s for a minute, live timestamps
      clickstream simulate --rate 20 --forever              live traffic until Ctrl-C (`local up --simulate`)
      clickstream simulate --sink file --events 10 --seed 1 reproducible NDJSON on stdout
      clickstream simulate --sink kafka --late-fraction 0.05 --duplicate-fraction 0.01
      clickstream simulate --history 7d --seed 7                a week of the past, backfilled through Airflow
    """
    from clickstream.errors import ClickstreamError
    from clickstream.simulate.run import run_simulation

    if opts.get("history"):
        run_history(opts)
        return
    if opts["forever"]:
        _check_forever(opts)
        run_forever(opts)
        return
    try:
        config, rate, duration = build_config(opts, now=datetime.now(UTC))
        sink = make_sink(opts)
        show_progress = not opts["quiet"] and sys.stderr.isatty()
        summary = run_simulation(
            config, sink, rate=rate, duration=duration, progress=show_progress, batch_size=opts["batch_size"]
        )
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    to_stderr = opts["sink"] == "file" and opts["output"] == "-"
    if opts["as_json"]:
        import orjson

        click.echo(orjson.dumps(summary.as_dict()).decode(), err=to_stderr)
    elif not opts["quiet"]:
        print_summary(summary, err=True)


def history_config(opts: dict[str, Any], *, now: datetime) -> Any:
    """The HistoryConfig the options describe: the --history duration before the current hour."""
    from clickstream.errors import ClickstreamError
    from clickstream.simulate.history import (
        DEFAULT_DUPLICATE_FRACTION,
        DEFAULT_EVENTS_PER_HOUR,
        DEFAULT_LATE_FRACTION,
        DEFAULT_USERS,
        HistoryConfig,
        parse_duration,
    )

    try:
        duration = parse_duration(opts["history"])
    except ClickstreamError as exc:
        raise click.BadParameter(str(exc), param_hint="--history") from exc
    if duration.total_seconds() <= 0:
        raise click.BadParameter("must be positive, e.g. 7d", param_hint="--history")
    clashing = [f"--{n}" for n in ("rate", "duration", "start", "span") if opts.get(n) is not None]
    if clashing or opts.get("forever"):
        raise click.UsageError(f"--history simulates the past at full speed: drop {', '.join(clashing) or '--forever'}")
    hours = duration.total_seconds() / 3600
    per_hour = round(opts["events"] / hours) if opts.get("events") else DEFAULT_EVENTS_PER_HOUR
    return HistoryConfig(
        end=now.astimezone(UTC).replace(minute=0, second=0, microsecond=0),
        duration=duration,
        users=opts.get("users") or DEFAULT_USERS,
        events_per_hour=max(1, per_hour),
        seed=opts["seed"] if opts.get("seed") is not None else secrets.randbelow(2**31),
        late_fraction=_given(opts, "late_fraction", DEFAULT_LATE_FRACTION),
        duplicate_fraction=_given(opts, "duplicate_fraction", DEFAULT_DUPLICATE_FRACTION),
    )


def run_history(opts: dict[str, Any]) -> None:
    """--history: write the simulated past, then backfill it through Airflow (unless --no-backfill)."""
    import orjson

    from clickstream.errors import ClickstreamError
    from clickstream.local.history import load_history
    from clickstream.settings import Settings

    settings = Settings.from_env()
    config = history_config(opts, now=datetime.now(UTC))
    say = (lambda m: None) if opts.get("quiet") else (lambda m: click.echo(m, err=True))
    try:
        result = load_history(
            settings, config, say, airflow_url=opts.get("airflow_url"), backfill=not opts.get("no_backfill")
        )
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    if opts.get("as_json"):
        click.echo(orjson.dumps(result).decode())


def build_config(opts: dict[str, Any], *, now: datetime) -> tuple[Any, float | None, float | None]:
    """The SimConfig, rate and duration the options describe (`now` is the default reference time)."""
    from clickstream.simulate.generator import SimConfig

    rate, duration = opts.get("rate"), opts.get("duration")
    events = opts.get("events")
    if events is None:
        events = math.ceil(rate * duration) if rate and duration else DEFAULT_EVENTS
    start = _parse_start(opts["start"]) if opts.get("start") else None
    if rate:
        span = timedelta(seconds=max(events / rate, 1.0))
        start = start or now
    else:
        span = timedelta(seconds=opts.get("span") or DEFAULT_SPAN_S)
        start = start or now - span
    config = SimConfig(
        start=start,
        users=opts.get("users") or max(MIN_USERS, events // EVENTS_PER_USER, math.ceil((rate or 0) * USERS_PER_EPS)),
        events=events,
        seed=opts["seed"] if opts.get("seed") is not None else secrets.randbelow(2**31),
        span=span,
        error_rate=opts.get("error_rate", 0.02),
        late_fraction=_given(opts, "late_fraction", 0.0),
        duplicate_fraction=_given(opts, "duplicate_fraction", 0.0),
        diurnal=not rate,  # a paced run keeps a flat rate so timestamps stay near the send time
        second_tab_share=opts.get("second_tab_share", DEFAULT_SECOND_TAB_SHARE),
    )
    return config, rate, duration


def make_sink(opts: dict[str, Any], settings: Settings | None = None) -> Sink:
    """The sink the options name, configured from settings (the environment by default)."""
    from clickstream.settings import Settings
    from clickstream.simulate import sinks

    kind = opts["sink"]
    if kind == "file":
        return sinks.FileSink(opts["output"])
    settings = settings or Settings.from_env()
    if kind == "collector":
        url = opts.get("url") or f"http://127.0.0.1:{settings.collector_port}"
        write_key = opts.get("write_key") or settings.write_key
        if not write_key:
            raise click.UsageError("no write key: pass --write-key or set CLICKSTREAM_WRITE_KEY")
        return sinks.CollectorSink(url, write_key)
    return sinks.StreamSink(replace(settings, transport=kind))


def print_summary(summary: SimSummary, *, err: bool = True) -> dict[str, Any]:
    """Print the run's summary (to stderr by default) and return it as a dict."""
    data = summary.as_dict()
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.rejected_by_reason.items())) or "-"
    lines = [
        f"sent        {summary.sent} events in {summary.sessions} sessions of {summary.users} users "
        f"(seed {summary.seed}; stopped by {summary.stopped_by})",
        f"accepted    {summary.accepted}",
        f"rejected    {summary.rejected}  by reason: {reasons}",
        f"injected    {summary.errors} HTTP errors, {summary.late} late, {summary.duplicates} duplicates",
        f"elapsed     {summary.elapsed_s:.2f} s  ({summary.rate:,.0f} events/s)",
    ]
    click.echo("\n".join(lines), err=err)
    return data


def _check_forever(opts: dict[str, Any]) -> None:
    if not opts.get("rate"):
        raise click.UsageError("--forever needs --rate (events/s), e.g. --forever --rate 20")
    clashing = [f"--{name}" for name in ("events", "duration", "start") if opts.get(name) is not None]
    if clashing:
        raise click.UsageError(f"--forever runs until stopped: drop {', '.join(clashing)}")


def run_forever(opts: dict[str, Any]) -> None:
    """Send at `opts["rate"]` until SIGINT/SIGTERM, an hour-long round at a time; print a summary line."""
    from clickstream.errors import ClickstreamError
    from clickstream.simulate.run import run_simulation

    rate = float(opts["rate"])
    seed = opts["seed"] if opts.get("seed") is not None else secrets.randbelow(2**31)
    progress = ProgressLog(rate, quiet=opts["quiet"])
    # `local down` and the foreground `local up` stop the simulator with SIGTERM: end as on Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    where = opts.get("url") or opts["sink"]
    progress.say(f"simulating {rate:g} events/s to {where} until stopped (seed {seed})")
    try:
        for round_no in range(sys.maxsize):
            round_opts = opts | {"events": math.ceil(rate * ROUND_S), "seed": seed + round_no}
            config, _, _ = build_config(round_opts, now=datetime.now(UTC))
            try:
                sink = ProgressSink(make_sink(opts), progress)
                run_simulation(config, sink, rate=rate, batch_size=opts["batch_size"])
            except ClickstreamError as exc:
                progress.say(f"{exc}; retrying in {RETRY_AFTER_S:.0f} s")
                time.sleep(RETRY_AFTER_S)
    except KeyboardInterrupt:
        progress.say(f"stopped: {progress.line()}")


class ProgressLog:
    """Totals of a --forever run, and a line on stderr every PROGRESS_EVERY_S seconds."""

    def __init__(self, rate: float, *, quiet: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.quiet, self._clock = rate, quiet, clock
        self.sent = self.accepted = self.rejected = 0
        self.started = self._last = clock()

    def add(self, sent: int, accepted: int, rejected: int) -> None:
        self.sent, self.accepted, self.rejected = self.sent + sent, self.accepted + accepted, self.rejected + rejected
        if self._clock() - self._last >= PROGRESS_EVERY_S:
            self._last = self._clock()
            self.say(self.line())

    def line(self) -> str:
        elapsed = max(self._clock() - self.started, 1e-9)
        return (
            f"sent {self.sent:,} events in {elapsed:,.0f} s ({self.sent / elapsed:,.1f}/s; target {self.rate:g}/s): "
            f"accepted {self.accepted:,}, rejected {self.rejected:,}"
        )

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)


class ProgressSink:
    """A sink that counts what passes through it into a ProgressLog."""

    def __init__(self, inner: Sink, progress: ProgressLog) -> None:
        self._inner, self._progress = inner, progress

    def send(self, batch: list[Event]) -> SendResult:
        result = self._inner.send(batch)
        self._progress.add(len(batch), result.accepted, result.rejected)
        return result

    def close(self) -> None:
        self._inner.close()


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _given(opts: dict[str, Any], name: str, default: float) -> float:
    """The option's value when given (0 included), else `default`."""
    value = opts.get(name)
    return default if value is None else float(value)


def _parse_start(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--start") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
