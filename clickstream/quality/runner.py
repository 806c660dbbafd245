"""Run a versioned expectation suite over one batch with Great Expectations 1.x.

Per-row attribution comes from GX itself, not from a re-implementation of the rules: the suite
runs with `result_format=COMPLETE` and `unexpected_index_column_names=["_row"]`, so every failed
column-map expectation lists the `_row` of each failing row, and `failures` maps a row to the
names of the expectations it failed. (The one rule GX does not evaluate from raw values is the
JSON-type rule: the parser records type violations in the `_invalid_types` column and GX checks
that column is null - see `clickstream.quality.suite`.) Passing rows cost nothing extra in
COMPLETE mode; the index lists grow with failures only.

GX runs in an ephemeral context (nothing written to disk), with analytics and progress bars off.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clickstream.quality.suite import DEDUPLICATE, FAIL_BATCH, QUARANTINE, ROW_COLUMN, expectation_name

if TYPE_CHECKING:
    import pandas as pd

DATASOURCE = "batch"
PARTIAL_UNEXPECTED = 20  # example values kept per expectation in the results JSON


@dataclass
class QualityResult:
    success: bool  # GX's verdict (deduplicate rules never fail it: mostly=0)
    evaluated: int  # rows validated
    results: dict[str, Any]  # the GX validation result, JSON-ready
    html: str  # Data Docs page of the result
    failures: dict[int, list[str]] = field(default_factory=dict)  # _row -> failed quarantine rules
    batch_failures: list[str] = field(default_factory=list)  # failed table rules / rules that raised
    duplicates_reported: int = 0  # rows GX found with a repeated event_id (informational)


def validate_frame(
    frame: pd.DataFrame, suite: Mapping[str, Any], *, parameters: Mapping[str, Any], run_name: str
) -> QualityResult:
    """Validate `frame` (which must have a `_row` column) against `suite` (a suite dict as in
    `suites/*.json`), with the suite parameters `parameters`."""
    gx = _import_gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas(DATASOURCE)
        .add_dataframe_asset(str(suite["name"]))
        .add_batch_definition_whole_dataframe("whole_batch")
    )
    expectations = [
        ExpectationConfiguration(type=e["type"], kwargs=dict(e["kwargs"]), meta=dict(e.get("meta", {}))).to_domain_obj()
        for e in suite["expectations"]
    ]
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=str(suite["name"]), expectations=expectations, meta=dict(suite.get("meta", {})))
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite['name']}-validation", data=batch_definition, suite=gx_suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=dict(parameters),
        run_id=RunIdentifier(run_name=run_name),
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [ROW_COLUMN],
            "partial_unexpected_count": PARTIAL_UNEXPECTED,
            "return_unique_unexpected": False,
        },
    )
    out = QualityResult(
        success=bool(result.success),
        evaluated=len(frame),
        results=result.to_json_dict(),
        html=_render_html(result),
    )
    for item in result.results:
        config = item.expectation_config
        assert config is not None  # GX always attaches the configuration to a result
        name = expectation_name(config.type, config.kwargs.get("column"))
        action = (config.meta or {}).get("action", QUARANTINE)
        raised = (item.exception_info or {}).get("raised_exception")
        if raised:
            out.batch_failures.append(f"{name} raised: {(item.exception_info or {}).get('exception_message')}")
            continue
        if action == DEDUPLICATE:
            out.duplicates_reported = int(item.result.get("unexpected_count") or 0)
            continue
        if item.success and action != QUARANTINE:
            continue
        if action == FAIL_BATCH:
            out.batch_failures.append(name)
            continue
        _attribute(item.result, name, out.failures)
    return out


def _attribute(result: Mapping[str, Any], name: str, failures: dict[int, list[str]]) -> None:
    indexed = result.get("unexpected_index_list") or []
    expected = int(result.get("unexpected_count") or 0)
    if len(indexed) != expected:
        # COMPLETE lists every failing row; anything else would silently publish bad rows.
        raise RuntimeError(f"{name}: GX listed {len(indexed)} failing rows but counted {expected}")
    for entry in indexed:
        failures.setdefault(int(entry[ROW_COLUMN]), []).append(name)


def render_results(
    outcomes: Sequence[tuple[Any, bool, Mapping[str, Any]]],
    *,
    suite_name: str,
    parameters: Mapping[str, Any],
    run_name: str,
) -> tuple[dict[str, Any], str]:
    """GX's validation result (JSON-ready) and its Data Docs page, from verdicts evaluated
    elsewhere (the engine: `clickstream.quality.compiled`). `outcomes`: (rule with type, kwargs
    and meta; success; GX's `result` dict) per expectation, in suite order."""
    _import_gx()
    from datetime import UTC, datetime

    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    results = [
        ExpectationValidationResult(
            success=ok,
            expectation_config=ExpectationConfiguration(type=rule.type, kwargs=dict(rule.kwargs), meta=dict(rule.meta)),
            result=dict(result),
            exception_info={"raised_exception": False, "exception_traceback": None, "exception_message": None},
        )
        for rule, ok, result in outcomes
    ]
    passed = sum(1 for _, ok, _ in outcomes if ok)
    suite = ExpectationSuiteValidationResult(
        success=passed == len(outcomes),
        results=results,
        suite_name=suite_name,
        suite_parameters=dict(parameters),
        statistics={
            "evaluated_expectations": len(outcomes),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(outcomes) - passed,
            "success_percent": passed / len(outcomes) * 100 if outcomes else 100.0,
        },
        meta={
            "run_id": RunIdentifier(run_name=run_name),
            "validation_time": datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ"),
            "evaluated_by": "the engine (clickstream.quality.compiled, ADR 0009)",
        },
    )
    return suite.to_json_dict(), _render_html(suite)


def _render_html(result: Any) -> str:
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    document = ValidationResultsPageRenderer().render(result)
    html: str = DefaultJinjaPageView().render(document)
    return html


def _import_gx() -> Any:
    # Analytics would phone home; this must be set before the first import of the package.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with warnings.catch_warnings():
        # GX imports pyspark when it is installed (benchmarks), which warns about pandas 3.
        warnings.simplefilter("ignore", FutureWarning)
        import great_expectations as gx
    return gx
