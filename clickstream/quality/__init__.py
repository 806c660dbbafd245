"""Data quality of the batch layer: the versioned Great Expectations suite and its runner.

- `suite`: the `raw_events` suite, built from the event contract's constants and stored in the
  repository as `suites/raw_events.v1.json` (a unit test keeps the file and the contract in step).
- `runner`: validates one batch (a pandas frame) with GX 1.x in an ephemeral context and returns
  the result JSON, the Data Docs HTML and, per row, the expectations it failed.

Great Expectations is imported lazily (inside the runner), never at import time: it takes ~3.5 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clickstream.errors import ClickstreamError


class DataQualityError(ClickstreamError):
    """A batch failed its data-quality gate; nothing was published (see the message for where
    the validation results and the quarantined rows are). `summary` holds the run's numbers."""

    def __init__(self, message: str, *, summary: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary: dict[str, Any] = dict(summary or {})
