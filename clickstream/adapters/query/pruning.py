"""Partition pruning for the local engine: which dt/hour directories a statement can possibly read.

Parquet tables are lazy datasets (DuckDB pushes filters into the scan), but raw NDJSON objects
must be decoded before DuckDB sees them, so skipping partitions a query cannot match keeps
`SELECT … FROM raw_events WHERE dt = '…'` proportional to that day. Only conjuncts of a WHERE
clause comparing a partition column with a string literal are used (=, <, <=, >, >=, BETWEEN,
IN); anything else keeps every partition, so pruning never changes a result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

Condition = Callable[[str], bool]
PartitionFilter = Callable[[Mapping[str, str]], bool]


def partition_filters(statement: Any, partition_keys: Mapping[str, tuple[str, ...]]) -> dict[str, PartitionFilter]:
    """{table name: keep(partition values)} for the tables whose every reference is restricted."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    per_ref: dict[str, list[dict[str, list[Condition]]]] = defaultdict(list)
    try:
        scopes = traverse_scope(statement)
    except Exception:  # sqlglot cannot scope every statement; pruning is only an optimisation
        return {}
    for scope in scopes:
        tables = {alias: src for alias, src in scope.sources.items() if isinstance(src, exp.Table)}
        where = scope.expression.args.get("where") if isinstance(scope.expression, exp.Select) else None
        conds: dict[str, dict[str, list[Condition]]] = {alias: defaultdict(list) for alias in tables}
        for conjunct in _conjuncts(where.this) if where is not None else []:
            found = _condition(conjunct)
            if found is None:
                continue
            column, cond = found
            alias = column.table or (next(iter(tables)) if len(tables) == 1 else "")
            table = tables.get(alias)
            if table is not None and column.name in partition_keys.get(table.name.lower(), ()):
                conds[alias][column.name].append(cond)
        for alias, table in tables.items():
            per_ref[table.name.lower()].append(dict(conds[alias]))
    return {name: _keep_any(refs) for name, refs in per_ref.items() if all(refs)}


def _keep_any(refs: list[dict[str, list[Condition]]]) -> PartitionFilter:
    def keep(values: Mapping[str, str]) -> bool:
        return any(all(c(values[k]) for k, cs in ref.items() for c in cs if k in values) for ref in refs)

    return keep


def _conjuncts(node: Any) -> list[Any]:
    from sqlglot import exp

    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _condition(node: Any) -> tuple[Any, Condition] | None:
    from sqlglot import exp

    ops: dict[type, Callable[[str, str], bool]] = {
        exp.EQ: lambda v, lit: v == lit,
        exp.GT: lambda v, lit: v > lit,
        exp.GTE: lambda v, lit: v >= lit,
        exp.LT: lambda v, lit: v < lit,
        exp.LTE: lambda v, lit: v <= lit,
    }
    flipped = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}
    if type(node) in ops:
        left, right, kind = node.this, node.expression, type(node)
        if isinstance(right, exp.Column) and _is_text(left):
            left, right, kind = right, left, flipped[kind]
        if isinstance(left, exp.Column) and _is_text(right):
            op, lit = ops[kind], right.name
            return left, lambda v: op(v, lit)
    if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
        low, high = node.args.get("low"), node.args.get("high")
        if low is not None and high is not None and _is_text(low) and _is_text(high):
            lo, hi = low.name, high.name
            return node.this, lambda v: lo <= v <= hi
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and not node.args.get("query"):
        items = node.expressions
        if items and all(_is_text(i) for i in items):
            allowed = {i.name for i in items}
            return node.this, lambda v: v in allowed
    return None


def _is_text(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Literal) and node.is_string
