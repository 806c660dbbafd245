"""The Airflow role allows every call the batch jobs make on the batch table.

The rehearsal runs every call with the embedded stack's credentials, so a missing IAM action shows
only in AWS (the compaction's lease release, DeleteItem, was missing when the lease was added).
The jobs reach the batch table through these adapter modules, each call as
`call(client, "<operation>", ...)`; every operation must be an action of the Airflow role.
"""

from __future__ import annotations

import inspect
import re

from clickstream_infra.components.airflow import BATCH_VIEW_ACTIONS

from clickstream.adapters.dynamodb import batch_view, history, locks, runs

# batch_view's batch reads serve the API (its own role); the jobs never call them
API_ONLY = {"batch_get_item"}


def _calls() -> set[str]:
    text = "".join(inspect.getsource(m) for m in (batch_view, history, locks, runs))
    return set(re.findall(r'call\(\s*[\w.]+,\s*"(\w+)"', text))


def test_the_airflow_role_allows_every_batch_table_call_of_the_jobs() -> None:
    calls = _calls()
    assert {"put_item", "delete_item", "update_item", "query", "batch_write_item"} <= calls  # the scan works
    action = {c: "dynamodb:" + "".join(part.title() for part in c.split("_")) for c in calls - API_ONLY}
    missing = sorted(a for a in action.values() if a not in BATCH_VIEW_ACTIONS)
    assert missing == [], f"add {missing} to BATCH_VIEW_ACTIONS in infra/cdk/clickstream_infra/components/airflow.py"
