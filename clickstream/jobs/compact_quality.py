"""The compaction job's quality step: the GX validator and the quarantine records it leads to."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from clickstream.jobs.compact_parse import MALFORMED_JSON, ParsedBatch
from clickstream.quality.suite import FRAME_COLUMNS, load_suite


@dataclass(frozen=True)
class QualityVerdict:
    """What a validator returns: rows to quarantine (by `_row`) and the results to keep."""

    failures: Mapping[int, Sequence[str]]  # _row -> failed expectation names
    batch_failures: Sequence[str]  # table-level failures: the whole batch is rejected
    results_json: bytes
    html: str


Validator = Callable[[pa.Table, Mapping[str, Any], str], QualityVerdict]


def gx_validator(frame: pa.Table, parameters: Mapping[str, Any], run_id: str) -> QualityVerdict:
    """The versioned suite (clickstream/quality/suites/raw_events.v1.json) run by GX on `frame`."""
    from clickstream.quality.runner import validate_frame

    result = validate_frame(
        frame.select(list(FRAME_COLUMNS)).to_pandas(), load_suite(), parameters=parameters, run_name=run_id
    )
    return QualityVerdict(
        failures=result.failures,
        batch_failures=result.batch_failures,
        results_json=orjson.dumps(result.results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str),
        html=result.html,
    )


def quarantine_lines(
    batch: ParsedBatch, keys: Sequence[str], failures: Mapping[int, Sequence[str]], run_id: str
) -> list[bytes]:
    """One JSON line per rejected record, in batch order: where it came from, why, and the
    record as received (`raw`, text) - so it can be fixed and replayed."""
    out: list[tuple[int, bytes]] = []
    for m in batch.malformed:
        entry = {
            "run_id": run_id,
            "source_key": keys[m.obj],
            "record": m.rec,
            "failed_expectations": [MALFORMED_JSON],
            "reason": MALFORMED_JSON,
            "raw": m.text,
        }
        out.append((m.row, orjson.dumps(entry)))
    if failures:
        frame = batch.frame
        rows = pa.array(sorted(failures), pa.int64())
        picked = frame.filter(pc.is_in(frame.column("_row"), value_set=rows))
        for row, obj, rec, invalid in zip(
            picked.column("_row").to_pylist(),
            picked.column("_obj").to_pylist(),
            picked.column("_rec").to_pylist(),
            picked.column("_invalid_types").to_pylist(),
            strict=True,
        ):
            names = list(failures[row])
            entry = {
                "run_id": run_id,
                "source_key": keys[obj],
                "record": rec,
                "failed_expectations": names,
                "reason": names[0],
                "raw": batch.line(obj, rec).decode("utf-8", "replace"),
            }
            if invalid:
                entry["invalid_type_columns"] = invalid.split(",")
            out.append((row, orjson.dumps(entry)))
    out.sort(key=lambda item: item[0])
    return [line for _, line in out]
