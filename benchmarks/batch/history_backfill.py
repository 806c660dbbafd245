"""`python -m benchmarks.batch history-backfill`: a day of history compacted through the daily DAG
beside the same volume through the hourly DAG, in one Airflow, in the same run.

Starts the embedded stack's AWS server and Airflow (`clickstream local up --services aws,airflow`),
writes two days of simulated history of the same volume (seeds S and S+1) (`clickstream.simulate.history`),
then backfills one day through `compact_raw_events_daily` (one run) and the other through
`compact_raw_events` (24 runs), in the order given, each timed from the backfill's creation until
its last run finished (`clickstream.local.history.run_backfill`); the metrics DAGs their assets
schedule run meanwhile, as they do in `make demo`. Then it waits for those and stops the stack.
Both paths compact the same job over the same number of events: the difference is Airflow's work
per run. A running stack on the same ports is used, and left running.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch history-backfill", description=__doc__)
    parser.add_argument("--events-per-hour", type=int, default=400, help="history volume (default: 400, as make demo)")
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--order", choices=["daily-first", "hourly-first"], default="hourly-first")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/history_backfill.json"))
    args = parser.parse_args(argv)

    from clickstream.local.airflow import airflow_url
    from clickstream.local.airflow_api import AirflowApi
    from clickstream.local.history import (
        BACKFILL_DAG,
        BACKFILL_TIMEOUT_S,
        HOURLY_DAG,
        Segment,
        run_backfill,
        wait_for_metrics,
        write_history,
    )
    from clickstream.settings import Settings
    from clickstream.simulate.history import HistoryConfig

    up = [sys.executable, "-m", "clickstream", "local", "up", "--services", "aws,airflow", "--history", "0"]
    subprocess.run(up, check=True, stdout=subprocess.DEVNULL)
    settings = Settings.from_env()
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = {"daily": midnight - 2 * DAY, "hourly": midnight - DAY}  # one day each, the same volume
    for n, day in enumerate(days.values()):  # seeds differ so that no event id repeats across the days
        config = HistoryConfig(
            end=day + DAY, duration=DAY, users=args.users, events_per_hour=args.events_per_hour, seed=args.seed + n
        )
        write_history(settings, config, print)
    api = AirflowApi(airflow_url(settings))
    segments = {
        "daily": Segment(BACKFILL_DAG, days["daily"], days["daily"], DAY),
        "hourly": Segment(HOURLY_DAG, days["hourly"], days["hourly"] + 23 * HOUR, HOUR),
    }
    order = ["daily", "hourly"] if args.order == "daily-first" else ["hourly", "daily"]
    seconds: dict[str, float] = {}
    deadline = time.monotonic() + BACKFILL_TIMEOUT_S
    for name in order:
        began = time.monotonic()
        run_backfill(api, segments[name], print, deadline)
        seconds[name] = round(time.monotonic() - began, 1)
    wait_for_metrics(api, print, deadline)
    report = {
        "benchmark": "history-backfill",
        "command": "python -m benchmarks.batch history-backfill " + " ".join(sys.argv[2:] if argv is None else argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "events_per_day": args.events_per_hour * 24,
        "order": order,
        "seconds": seconds,
        "runs": {name: seg.runs for name, seg in segments.items()},
        "hourly_over_daily": round(seconds["hourly"] / seconds["daily"], 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0
