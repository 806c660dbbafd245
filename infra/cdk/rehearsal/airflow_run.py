"""Run the batch DAGs of a DAG bundle with `dag.test()`, in the rehearsal's MWAA virtualenv.

    <venv>/bin/python airflow_run.py <first hour> <end hour>     (ISO 8601, UTC)

compact_raw_events for every hour of [first, end), then batch_metrics and reconcile_speed_batch
once over the days covered, as the assets would trigger them. The DAGs come from
AIRFLOW__CORE__DAGS_FOLDER (the bundle's dags/), so this imports only Airflow, never the
repository. Prints one JSON line: seconds per hour and per DAG. Exits 1 on an import error or a
run that did not succeed, naming it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta
from typing import Any


def main(argv: list[str]) -> int:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 3.0
    from airflow.utils.state import DagRunState

    first, end = datetime.fromisoformat(argv[1]), datetime.fromisoformat(argv[2])
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        print(f"DAG import errors: {json.dumps(bag.import_errors, indent=2)}", file=sys.stderr)
        return 1
    report: dict[str, Any] = {"hours": {}, "dags": {}}

    def test(dag_id: str, conf: dict[str, str]) -> float:
        began = time.perf_counter()
        run = bag.dags[dag_id].test(logical_date=None, run_conf=conf, mark_success_pattern="wait_for_.*")
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        if run.state != DagRunState.SUCCESS or not states:
            raise RuntimeError(f"{dag_id} {conf}: {run.state}, tasks {states}")
        return round(time.perf_counter() - began, 2)

    try:
        hour = first
        while hour < end:
            conf = {"interval_start": hour.isoformat(), "interval_end": (hour + timedelta(hours=1)).isoformat()}
            report["hours"][hour.isoformat()] = test("compact_raw_events", conf)
            hour += timedelta(hours=1)
        days = {"start_date": first.date().isoformat(), "end_date": (end - timedelta(seconds=1)).date().isoformat()}
        for dag_id in ("batch_metrics", "reconcile_speed_batch"):
            report["dags"][dag_id] = test(dag_id, days)
    except RuntimeError as exc:
        print(f"a DAG run failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
