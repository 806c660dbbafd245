"""What Grafana and its plugins do to a panel's query before it runs, emulated so tests can run the query.

No Grafana server runs in CI (none is packaged for Debian or PyPI), so the tests take each panel's query,
apply the same rewriting Grafana would, and run the result against the real engine or API:

- `interpolate`: Grafana's template variables in a query (`$var`, `${var}`, `${var:format}`, the global
  `$__from` / `$__to` in milliseconds and `${__from:date:seconds}` / `${__from:date:iso}`).
- `expand_athena_macros`: the macros of the Athena plugin (grafana/athena-datasource `pkg/athena/macros.go`,
  applied by its SQL layer `sqlds`): `$__timeFilter(col)`, `$__timeFrom()`, `$__timeTo()`,
  `$__timeGroup(col, '1h')`, `$__dateFilter(col)`, `$__unixEpochFilter(col)`, `$__unixEpochGroup(col, '5m')`,
  `$__parseTime(col)`. The text they produce is the plugin's, byte for byte (its macro tests are the reference).
- `parse_infinity`: how the Infinity plugin's backend parser turns a JSON document into rows: a
  `root_selector` (a dotted path; plain JSONata paths are the subset we use) and one selector per column,
  with the column's type checked as the plugin would convert it.
- `promql_metric_names`: the metric names a PromQL expression reads (what must exist on `/metrics`).

Anything outside the subset raises `EmulationError`, so a panel cannot silently use a feature the tests
would not check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final


class EmulationError(ValueError):
    """A query uses a macro, variable or selector this emulation does not implement."""


# --- Grafana template variables ---------------------------------------------------------------

_VARIABLE: Final = re.compile(
    r"\$\{(?P<braced>[A-Za-z0-9_]+)(?::(?P<fmt>[^}]+))?\}|\$(?P<plain>__from|__to|[A-Za-z_]\w*)"
)
_INTERVAL: Final = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def interpolate(text: str, variables: Mapping[str, str], start: datetime, end: datetime) -> str:
    """`text` with Grafana's variables replaced; `$__name(` macros are left for the datasource."""

    def replace(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        if m.group("plain") and m.string[m.end() : m.end() + 1] == "(":
            return m.group(0)  # a datasource macro such as $__timeFilter(
        fmt = m.group("fmt")
        if name in ("__from", "__to"):
            return _time_variable(start if name == "__from" else end, fmt)
        if name.startswith("__"):
            if m.group("plain") and name not in variables:
                return m.group(0)  # $__timeFilter etc. without parentheses are not variables
            raise EmulationError(f"global variable ${name} is not emulated")
        if name not in variables:
            raise EmulationError(f"variable ${name} is not defined on the dashboard")
        if fmt not in (None, "raw", "text"):
            raise EmulationError(f"variable format {fmt!r} of ${name} is not emulated")
        return variables[name]

    return _VARIABLE.sub(replace, text)


def _time_variable(moment: datetime, fmt: str | None) -> str:
    if fmt is None:
        return str(int(moment.timestamp() * 1000))  # Grafana: epoch milliseconds
    if fmt == "date:seconds":
        return str(int(moment.timestamp()))
    if fmt in ("date", "date:iso"):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    raise EmulationError(f"time format {fmt!r} is not emulated")


# --- Athena plugin macros (pkg/athena/macros.go) ----------------------------------------------

_GO_TIMESTAMP: Final = "%Y-%m-%d %H:%M:%S"  # Go "2006-01-02 15:04:05"
_DEFAULT_FORMAT: Final = "'yyyy-MM-dd HH:mm:ss'"
_MACRO: Final = re.compile(r"\$__(\w+)\(")


def expand_athena_macros(sql: str, start: datetime, end: datetime) -> str:
    """`sql` with every `$__macro(args)` replaced the way the Athena plugin does for the range [start, end]."""
    out, pos = [], 0
    for m in _MACRO.finditer(sql):
        if m.start() < pos:
            continue  # inside the arguments of a macro already expanded
        args, close = _arguments(sql, m.end())
        name = m.group(1)
        func = _ATHENA_MACROS.get(name)
        if func is None:
            raise EmulationError(f"Athena macro $__{name} is not emulated")
        out.append(sql[pos : m.start()])
        out.append(func([expand_athena_macros(a, start, end) for a in args], start, end))
        pos = close + 1
    out.append(sql[pos:])
    text = "".join(out)
    if "$__" in text:
        raise EmulationError(f"unexpanded macro left in: {text[text.index('$__') :][:40]!r}")
    return text


def _arguments(sql: str, at: int) -> tuple[list[str], int]:
    """The comma-separated arguments from `at` (just after "(") to the matching ")", and its index."""
    depth, quote, args, current = 0, "", [], []
    for i in range(at, len(sql)):
        ch = sql[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch == "'":
            quote = ch
            current.append(ch)
        elif ch == "(":
            depth += 1
            current.append(ch)
        elif ch == ")" and depth:
            depth -= 1
            current.append(ch)
        elif ch == ")":
            args.append("".join(current).strip())
            return [a for a in args if a], i
        elif ch == "," and not depth:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    raise EmulationError(f"unbalanced parentheses after {sql[max(0, at - 20) : at]!r}")


def _parse_time(target: str, fmt: str) -> str:
    if not fmt:
        return target
    if fmt == _DEFAULT_FORMAT:
        return f"TIMESTAMP {target}"
    return f"parse_datetime({target},{fmt})"


def _need(args: Sequence[str], n: int, name: str) -> None:
    if len(args) < n:
        raise EmulationError(f"$__{name} needs at least {n} argument(s), got {len(args)}")


def _seconds(interval: str) -> int:
    m = _INTERVAL.match(interval.strip().strip("'"))
    if m is None:
        raise EmulationError(f"interval {interval!r}: expected e.g. '1m', '1h', '1d'")
    return int(int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)  # Go's %v of a float64


def _time_filter(args: Sequence[str], start: datetime, end: datetime) -> str:
    _need(args, 1, "timeFilter")
    column = _parse_time(args[0], args[1] if len(args) > 1 else "")
    return f"{column} BETWEEN TIMESTAMP '{_utc(start)}' AND TIMESTAMP '{_utc(end)}'"


def _time_group(args: Sequence[str], start: datetime, end: datetime) -> str:
    _need(args, 2, "timeGroup")
    column = _parse_time(args[0], args[2]) if len(args) == 3 else args[0]
    s = _number(_seconds(args[1]))
    return f"FROM_UNIXTIME(FLOOR(TO_UNIXTIME({column})/{s})*{s})"


def _unix_epoch_group(args: Sequence[str], start: datetime, end: datetime) -> str:
    _need(args, 2, "unixEpochGroup")
    s = _number(_seconds(args[1]))
    return f"FROM_UNIXTIME(FLOOR({args[0]}/{s})*{s})"


def _date_filter(args: Sequence[str], start: datetime, end: datetime) -> str:
    if len(args) != 1:
        raise EmulationError(f"$__dateFilter takes 1 argument, got {len(args)}")
    return f"{args[0]} BETWEEN date '{start.astimezone(UTC):%Y-%m-%d}' AND date '{end.astimezone(UTC):%Y-%m-%d}'"


def _unix_epoch_filter(args: Sequence[str], start: datetime, end: datetime) -> str:
    if len(args) != 1:
        raise EmulationError(f"$__unixEpochFilter takes 1 argument, got {len(args)}")
    return f"{args[0]} BETWEEN {int(start.timestamp())} AND {int(end.timestamp())}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_GO_TIMESTAMP)


_ATHENA_MACROS: Final[dict[str, Callable[[Sequence[str], datetime, datetime], str]]] = {
    "timeFilter": _time_filter,
    "timeFrom": lambda a, s, e: f"TIMESTAMP '{_utc(s)}'",
    "timeTo": lambda a, s, e: f"TIMESTAMP '{_utc(e)}'",
    "timeGroup": _time_group,
    "unixEpochGroup": _unix_epoch_group,
    "dateFilter": _date_filter,
    "unixEpochFilter": _unix_epoch_filter,
    "parseTime": lambda a, s, e: _parse_time(a[0], a[1] if len(a) > 1 else _DEFAULT_FORMAT),
}


# --- Infinity backend parser -------------------------------------------------------------------

_PATH: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
INFINITY_TYPES: Final = ("string", "number", "timestamp", "timestamp_epoch", "timestamp_epoch_s", "boolean")


def select(doc: Any, path: str) -> Any:
    """The value at dotted `path` in `doc` (None where a key is missing); "" is the document itself."""
    if not path:
        return doc
    if not _PATH.match(path):
        raise EmulationError(f"selector {path!r}: only dotted paths (a.b.c) are emulated")
    for key in path.split("."):
        doc = doc.get(key) if isinstance(doc, Mapping) else None
    return doc


def parse_infinity(doc: Any, root_selector: str, columns: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Rows the way Infinity's backend parser builds them: the root (an object = one row, an array of
    objects = rows), then each column's selector, converted to the column's type.

    Raises EmulationError when a value cannot become the column's type (the plugin would show an
    error or an empty field there), or when the root is neither an object nor an array of objects.
    """
    root = select(doc, root_selector)
    if isinstance(root, Mapping):
        rows: list[Any] = [root]
    elif isinstance(root, list) and all(isinstance(r, Mapping) for r in root):
        rows = root
    else:
        raise EmulationError(f"root {root_selector!r} is {type(root).__name__}, not an object or array of objects")
    out = []
    for row in rows:
        parsed = {}
        for column in columns:
            value = select(row, column["selector"])
            parsed[column.get("text") or column["selector"]] = _convert(value, column.get("type", "string"), column)
        out.append(parsed)
    return out


def _convert(value: Any, kind: str, column: Mapping[str, str]) -> Any:
    if kind not in INFINITY_TYPES:
        raise EmulationError(f"column type {kind!r} is not an Infinity type: {', '.join(INFINITY_TYPES)}")
    if value is None:
        return None  # Infinity leaves a null cell
    if kind == "string":
        return str(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise EmulationError(f"column {column['selector']!r}: {value!r} is not a boolean")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        if kind == "timestamp" and isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
        raise EmulationError(f"column {column['selector']!r} ({kind}): {value!r} is not a number")
    if kind == "timestamp_epoch_s":
        return datetime.fromtimestamp(value, tz=UTC)
    if kind in ("timestamp_epoch", "timestamp"):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value


# --- PromQL ------------------------------------------------------------------------------------

_PROMQL_FUNCTIONS: Final = frozenset(
    [
        "abs",
        "absent",
        "absent_over_time",
        "avg_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "count_over_time",
        "day_of_month",
        "day_of_week",
        "days_in_month",
        "delta",
        "deriv",
        "exp",
        "floor",
        "histogram_quantile",
        "holt_winters",
        "hour",
        "idelta",
        "increase",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log10",
        "log2",
        "max_over_time",
        "min_over_time",
        "minute",
        "month",
        "predict_linear",
        "present_over_time",
        "quantile_over_time",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sort",
        "sort_desc",
        "sqrt",
        "stddev_over_time",
        "stdvar_over_time",
        "sum_over_time",
        "time",
        "timestamp",
        "vector",
        "year",
    ]
)
_PROMQL_AGGREGATIONS: Final = frozenset(
    ["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"]
)
_PROMQL_KEYWORDS: Final = frozenset(
    ["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"]
)
_LABEL_LIST_AFTER: Final = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right"])
_TOKEN: Final = re.compile(
    r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|\{[^}]*\}|\[[^\]]*\]|(?:\d+(?:ms|[smhdwy]))+|[A-Za-z_:][A-Za-z0-9_:]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\S'
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects: every identifier that is not a function, aggregation, keyword or
    a label in a `by (...)`-style list. `{__name__="x"}` selectors are not emulated (EmulationError)."""
    if "__name__" in expr:
        raise EmulationError("selecting metrics by __name__ is not emulated; name the metric")
    tokens = _TOKEN.findall(expr)
    names: set[str] = set()
    skip_list = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if skip_list:
            if tok == ")":
                skip_list = False
        elif tok in _LABEL_LIST_AFTER:
            if nxt == "(":
                skip_list = True
                i += 1
        elif re.match(r"[A-Za-z_:]", tok) and tok not in _PROMQL_KEYWORDS:
            if (nxt == "(" and (tok in _PROMQL_FUNCTIONS or tok in _PROMQL_AGGREGATIONS)) or (
                tok in _PROMQL_AGGREGATIONS and nxt in ("by", "without")
            ):
                pass
            elif nxt == "(":
                raise EmulationError(f"unknown PromQL function {tok!r}")
            else:
                names.add(tok)
        i += 1
    return names
