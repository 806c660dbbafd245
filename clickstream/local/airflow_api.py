"""A small client of Airflow's REST API (v2), for what the CLI drives: backfills and their runs.

The local Airflow runs on SQLite, which has one writer: while the scheduler holds it, the API
answers 503 "Database is locked" (Airflow says to use PostgreSQL for concurrent access). A call
is retried then, as a user would.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Final

from clickstream.errors import ConfigError

LOCKED_ATTEMPTS: Final = 15
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AirflowApi:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for attempt in range(LOCKED_ATTEMPTS):
            try:
                with _NO_PROXY.open(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:800]
                if exc.code == 503 and b"locked" in detail.lower() and attempt + 1 < LOCKED_ATTEMPTS:
                    time.sleep(1)
                    continue
                message = f"{method} {path}: HTTP {exc.code}: {detail.decode(errors='replace')}"
                raise AirflowApiError(exc.code, message) from exc
            except urllib.error.URLError as exc:
                raise ConfigError(f"no Airflow at {self.url} ({exc.reason}): start it with `make up`") from exc
        raise AssertionError("unreachable")

    def dag_runs(self, dag_id: str, *, run_type: str | None = None) -> list[dict[str, Any]]:
        query = "?limit=1000" + (f"&run_type={run_type}" if run_type else "")
        return list(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns{query}")["dag_runs"])

    def busy(self, dag_id: str) -> bool:
        """Runs of `dag_id` queued or running, or asset events waiting to trigger one."""
        runs = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?state=queued&state=running&limit=1")
        if runs["total_entries"]:
            return True
        try:
            queued = self.call("GET", f"/api/v2/dags/{dag_id}/assets/queuedEvents")
        except AirflowApiError as exc:
            if exc.status == 404:  # no queued event
                return False
            raise
        return bool(queued.get("total_entries"))


class AirflowApiError(ConfigError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
