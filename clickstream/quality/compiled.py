"""The versioned expectation suite compiled to Athena SQL, for the engine to evaluate (ADR 0009).

Each column expectation becomes a predicate that is true when a row FAILS it, with Great
Expectations' null semantics: the null rules look at nulls only, `in_set` and `between` ignore
nulls. The compiled statements:

- `failures_sql`: `_row`, one boolean `f<i>` per rule, and the rules' columns, for every row that
  fails at least one rule (what quarantine needs, and the examples in the results);
- `stats_sql`: one row of counts: rows, non-null values per rule column, duplicated event_ids.

The suite file stays the contract; this module only knows the five expectation types the suite
uses and refuses any other (UnsupportedExpectation), so a new rule cannot pass unevaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from clickstream.errors import ClickstreamError
from clickstream.quality.suite import (
    BETWEEN,
    COLUMNS,
    IN_SET,
    IS_NULL,
    NOT_NULL,
    QUARANTINE,
    UNIQUE,
    expectation_name,
)

SUPPORTED: Final = frozenset({NOT_NULL, IS_NULL, IN_SET, BETWEEN, UNIQUE, COLUMNS})


class UnsupportedExpectation(ClickstreamError):
    """The suite has a rule the compiler cannot evaluate: teach `compile_suite` first."""


@dataclass(frozen=True)
class Rule:
    type: str
    kwargs: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)
    fails: str | None = None  # the row-failure predicate of a column rule; None for table/unique rules

    @property
    def name(self) -> str:
        return expectation_name(self.type, self.kwargs.get("column"))

    @property
    def action(self) -> str:
        return str(self.meta.get("action", QUARANTINE))

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return None if column is None else str(column)


def compile_suite(suite: Mapping[str, Any], parameters: Mapping[str, Any]) -> list[Rule]:
    """The suite's rules in order, each column rule with its failure predicate (Athena SQL)."""
    rules = []
    for e in suite["expectations"]:
        kind, kw, meta = e["type"], dict(e["kwargs"]), dict(e.get("meta") or {})
        if kind not in SUPPORTED:
            raise UnsupportedExpectation(
                f"{kind}: the suite's rules are compiled to SQL (clickstream/quality/compiled.py), which "
                f"evaluates {', '.join(sorted(SUPPORTED))}; add a predicate for it there"
            )
        rules.append(Rule(kind, kw, meta, _predicate(kind, kw, parameters)))
    return rules


def _predicate(kind: str, kw: Mapping[str, Any], parameters: Mapping[str, Any]) -> str | None:
    if kind in (UNIQUE, COLUMNS):
        return None
    col = _ident(kw["column"])
    if kind == NOT_NULL:
        return f"{col} IS NULL"
    if kind == IS_NULL:
        return f"{col} IS NOT NULL"
    if kind == IN_SET:
        values = ", ".join(_literal(v, parameters) for v in kw["value_set"])
        return f"({col} IS NOT NULL AND {col} NOT IN ({values}))"
    bounds = []  # BETWEEN
    if kw.get("min_value") is not None:
        bounds.append(f"{col} {'<=' if kw.get('strict_min') else '<'} {_literal(kw['min_value'], parameters)}")
    if kw.get("max_value") is not None:
        bounds.append(f"{col} {'>=' if kw.get('strict_max') else '>'} {_literal(kw['max_value'], parameters)}")
    return f"({col} IS NOT NULL AND ({' OR '.join(bounds)}))" if bounds else None


def failures_sql(rules: Sequence[Rule], table: str) -> str:
    """Every row failing a column rule: `_row`, `f<i>` per column rule (in `rules` order, None
    for the others), and the rules' columns as `v<i>`."""
    flags, values, any_fail = [], [], []
    for i, rule in enumerate(rules):
        if rule.fails is None:
            continue
        flags.append(f"{rule.fails} AS f{i}")
        values.append(f"{_ident(rule.column or '')} AS v{i}")
        any_fail.append(rule.fails)
    where = " OR ".join(any_fail) or "FALSE"
    return f"SELECT _row, {', '.join(flags + values)} FROM {table} WHERE {where}"


def stats_sql(rules: Sequence[Rule], table: str) -> str:
    """One row: `n` rows, `c<i>` non-null values of each column rule's column, `d<i>` rows whose
    value of a uniqueness rule's column occurs more than once (GX counts every copy)."""
    parts = ["count(*) AS n"]
    dups = []
    for i, rule in enumerate(rules):
        if rule.column is None:
            continue
        parts.append(f"count({_ident(rule.column)}) AS c{i}")
        if rule.type == UNIQUE:
            col = _ident(rule.column)
            dups.append(
                f"(SELECT coalesce(sum(k), 0) FROM (SELECT count(*) AS k FROM {table} WHERE {col} IS NOT NULL "
                f"GROUP BY {col} HAVING count(*) > 1) AS g{i}) AS d{i}"
            )
    return f"SELECT {', '.join(parts + dups)} FROM {table}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any, parameters: Mapping[str, Any]) -> str:
    if isinstance(value, Mapping) and "$PARAMETER" in value:
        return f"from_iso8601_timestamp('{parameters[value['$PARAMETER']]}')"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedExpectation(f"{value!r}: only strings, numbers and $PARAMETER references compile")
    return repr(value)
