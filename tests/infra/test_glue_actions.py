"""The deployed roles allow every Glue call the code makes.

The rehearsal runs every call with the embedded stack's credentials, so a missing IAM action shows
only in AWS. The Glue adapter is the one place that calls Glue: each `_client.<operation>(` and
`get_paginator("<operation>")` in it must be an action of the Airflow role, and each read the
API's role.
"""

from __future__ import annotations

import inspect
import re

from clickstream_infra.components.airflow import GLUE_ACTIONS
from clickstream_infra.components.query_api import GLUE_READ_ACTIONS

from clickstream.adapters.glue import catalog

# Glue reads the API and the local engine make (LakeEvents, LocalEngine over the catalog)
API_GLUE_CALLS = {"get_tables", "get_table", "get_partitions"}
# Not a job's: the local stack's provisioning creates the database; the CDK app does in AWS.
NOT_THE_JOBS = {"create_database"}


def _action(operation: str) -> str:
    return "glue:" + "".join(part.title() for part in operation.split("_"))


def _calls() -> set[str]:
    text = inspect.getsource(catalog)
    calls = set(re.findall(r"_client\.(\w+)\(", text)) - {"get_paginator"}
    return calls | set(re.findall(r'get_paginator\("(\w+)"\)', text))


def test_the_airflow_role_allows_every_glue_call_of_the_jobs() -> None:
    calls = _calls()
    assert {"batch_create_partition", "batch_update_partition", "get_partitions"} <= calls  # the scan works
    missing = sorted(_action(c) for c in calls - NOT_THE_JOBS if _action(c) not in GLUE_ACTIONS)
    assert missing == [], f"add {missing} to GLUE_ACTIONS in infra/cdk/clickstream_infra/components/airflow.py"


def test_the_api_role_allows_the_glue_reads_of_the_api() -> None:
    assert _calls() >= API_GLUE_CALLS
    assert sorted(_action(c) for c in API_GLUE_CALLS if _action(c) not in GLUE_READ_ACTIONS) == []
