"""The quality gate's verdicts: `gate_results` turns the engine's counts into GX's results JSON and
Data Docs (the compaction job); the validators over an in-memory frame (`sql_validator`, the
suite compiled to SQL on the local engine; `gx_validator`, GX on pandas) serve the spikes and the
unit tests that hold the compiled suite to GX's verdicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from clickstream.quality.suite import FAIL_BATCH, FRAME_COLUMNS, QUARANTINE, load_suite


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


def sql_validator(frame: pa.Table, parameters: Mapping[str, Any], run_id: str) -> QualityVerdict:
    """The versioned suite compiled to SQL and evaluated by the engine over `frame` (ADR 0009):
    the same verdicts as GX's, and GX's results JSON and Data Docs built from the counts."""
    from clickstream.adapters.query.local import LocalEngine
    from clickstream.quality import compiled as q

    batch = frame.select(list(FRAME_COLUMNS))
    suite = load_suite()
    rules = q.compile_suite(suite, parameters)
    engine = LocalEngine.over({"batch": batch})
    failed = engine.execute(q.failures_sql(rules, "batch"))
    (stats,) = engine.execute(q.stats_sql(rules, "batch")).to_pylist()
    rows = failed.column("_row").to_pylist()
    hits = {
        i: [j for j, flag in enumerate(failed.column(f"f{i}").to_pylist()) if flag]
        for i, rule in enumerate(rules)
        if rule.fails is not None
    }
    counts = {**stats, **{f"u{i}": len(hit) for i, hit in hits.items()}}
    examples = {i: [failed.column(f"v{i}")[j].as_py() for j in hit[:PARTIAL_UNEXPECTED]] for i, hit in hits.items()}
    batch_failures, results_json, html = gate_results(rules, counts, examples, batch.column_names, parameters, run_id)
    failures: dict[int, list[str]] = {}
    for i, hit in hits.items():
        if rules[i].action == QUARANTINE:
            for j in hit:
                failures.setdefault(int(rows[j]), []).append(rules[i].name)
    return QualityVerdict(failures=failures, batch_failures=batch_failures, results_json=results_json, html=html)


def gate_results(
    rules: Sequence[Any],
    counts: Mapping[str, Any],
    examples: Mapping[int, Sequence[Any]],
    columns: Sequence[str],
    parameters: Mapping[str, Any],
    run_id: str,
) -> tuple[list[str], bytes, str]:
    """GX's results JSON and Data Docs of the compiled suite, from the engine's counts (ADR 0009):
    `counts` has `n` (rows evaluated) and, per rule i, `c<i>` (non-null values), `u<i>` (rows
    failing a column rule), `d<i>` (duplicated values of a uniqueness rule); `examples[i]` lists
    failing values; `columns` are the batch's columns. Returns (the names of the failed
    table-level rules, which reject the batch; the results JSON; the Data Docs HTML)."""
    from clickstream.quality import compiled as q
    from clickstream.quality.runner import render_results

    batch_failures: list[str] = []
    outcomes = []
    n = int(counts["n"] or 0)
    for i, rule in enumerate(rules):
        if rule.type == q.COLUMNS:
            observed = list(columns)
            ok = observed == list(rule.kwargs["column_list"])
            outcomes.append((rule, ok, {"observed_value": observed}))
            if not ok:
                batch_failures.append(rule.name)
            continue
        present = int(counts[f"c{i}"] or 0)
        if rule.type == q.UNIQUE:
            unexpected, shown = int(counts[f"d{i}"] or 0), []
        else:
            unexpected = int(counts[f"u{i}"] or 0)
            shown = [_plain(v) for v in examples.get(i, [])[:PARTIAL_UNEXPECTED]]
        base = n if rule.type == q.NOT_NULL else present
        ratio = unexpected / base if base else 0.0
        ok = ratio <= 1 - float(rule.kwargs.get("mostly", 1.0))
        outcomes.append((rule, ok, _column_result(n, present, unexpected, shown, rule.type == q.NOT_NULL)))
        if rule.action == FAIL_BATCH and not ok:
            batch_failures.append(rule.name)
    suite = load_suite()
    results, html = render_results(outcomes, suite_name=str(suite["name"]), parameters=parameters, run_name=run_id)
    return batch_failures, orjson.dumps(results, option=orjson.OPT_INDENT_2, default=str), html


PARTIAL_UNEXPECTED = 20  # example values kept per expectation in the results JSON, as GX keeps


def _column_result(n: int, present: int, unexpected: int, examples: list[Any], nulls_fail: bool) -> dict[str, Any]:
    """GX's `result` of a column map expectation, from counts."""
    missing = n - present
    return {
        "element_count": n,
        "unexpected_count": unexpected,
        "unexpected_percent": 100.0 * unexpected / (n if nulls_fail else present)
        if (n if nulls_fail else present)
        else 0.0,
        "partial_unexpected_list": examples,
        "missing_count": 0 if nulls_fail else missing,
        "missing_percent": 0.0 if nulls_fail or not n else 100.0 * missing / n,
        "unexpected_percent_total": 100.0 * unexpected / n if n else 0.0,
        "unexpected_percent_nonmissing": 100.0 * unexpected / present if present else 0.0,
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
