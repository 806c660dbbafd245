"""Athena's `UNLOAD`, the statement both engines run to write a query's result into the lake.

    UNLOAD (SELECT …, dt FROM …) TO 's3://<bucket>/<prefix>/'
    WITH (format = 'PARQUET', compression = 'ZSTD'[, compression_level = 7], partitioned_by = ARRAY['dt'])

Athena writes the result as Parquet under the location, one `dt=<value>/` folder per partition
value, without the partition columns in the files; the location must be empty, and one UNLOAD
writes at most `ATHENA_MAX_PARTITIONS_PER_WRITE` partitions. The local engine runs the same text
(`LocalEngine.execute`): DuckDB streams the result into pyarrow's dataset writer on the same S3
endpoint, batch by batch, so neither engine's caller holds the result.

sqlglot has no grammar for UNLOAD (it parses it as a `Command`), so the statement is written and
read here, in the one form the jobs generate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from clickstream import constants as c

FORMAT: Final = "PARQUET"
JSON_FORMAT: Final = "JSON"  # one JSON object a line (the quarantine: rows as they came, with reasons)
FORMATS: Final = frozenset({FORMAT, JSON_FORMAT})
COMPRESSION: Final = "ZSTD"
JSON_COMPRESSION: Final = "GZIP"
MAX_PARTITIONS: Final = c.ATHENA_MAX_PARTITIONS_PER_WRITE

_STATEMENT: Final = re.compile(
    r"^\s*UNLOAD\s*\((?P<select>.*)\)\s*TO\s*'(?P<location>[^']+)'\s*"
    r"WITH\s*\(\s*format\s*=\s*'(?P<format>\w+)'\s*,\s*compression\s*=\s*'(?P<compression>\w+)'"
    r"(?:\s*,\s*compression_level\s*=\s*(?P<level>\d+))?"
    r"(?:\s*,\s*partitioned_by\s*=\s*ARRAY\[(?P<partitioned_by>[^\]]*)\])?\s*\)\s*;?\s*$",
    re.DOTALL | re.IGNORECASE,
)
_IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Unload:
    """One UNLOAD: the SELECT (Athena dialect, partition columns last), where, and how."""

    select: str
    location: str  # s3://bucket/prefix/ (a local directory for an engine over local sources)
    partitioned_by: tuple[str, ...] = ()
    compression: str = COMPRESSION
    format: str = FORMAT
    compression_level: int | None = None  # ZSTD's level (Athena: 1-22, 3 by default)

    def __post_init__(self) -> None:
        if self.compression_level is not None and (self.compression != "ZSTD" or not 1 <= self.compression_level <= 22):
            raise ValueError("UNLOAD compression_level is ZSTD's, from 1 to 22")
        if self.format not in FORMATS:
            raise ValueError(f"UNLOAD format {self.format!r}: the jobs write {' or '.join(sorted(FORMATS))}")
        if "'" in self.location or not self.location.endswith("/"):
            raise ValueError(f"UNLOAD location must end with / and hold no quote: {self.location!r}")
        for column in self.partitioned_by:
            if not _IDENTIFIER.match(column):
                raise ValueError(f"UNLOAD partition column {column!r} is not a plain lower-case identifier")

    def sql(self) -> str:
        options = f"format = '{self.format}', compression = '{self.compression}'"
        if self.compression_level is not None:
            options += f", compression_level = {self.compression_level}"
        if self.partitioned_by:
            options += f", partitioned_by = ARRAY[{', '.join(repr(p) for p in self.partitioned_by)}]"
        return f"UNLOAD ({self.select.strip().rstrip(';')}) TO '{self.location}' WITH ({options})"

    @classmethod
    def parse(cls, text: str) -> Unload | None:
        """The UNLOAD `text` states, or None when `text` is not an UNLOAD."""
        if not is_unload(text):
            return None
        m = _STATEMENT.match(text)
        if m is None or m["format"].upper() not in FORMATS:
            raise ValueError(
                "UNLOAD must read: UNLOAD (<select>) TO 's3://…/' WITH (format = 'PARQUET' or 'JSON', "
                "compression = '…'[, partitioned_by = ARRAY['col', …]])"
            )
        columns = tuple(p.strip().strip("'\"") for p in (m["partitioned_by"] or "").split(",") if p.strip())
        level = int(m["level"]) if m["level"] else None
        return cls(m["select"], m["location"], columns, m["compression"].upper(), m["format"].upper(), level)


def is_unload(sql: str) -> bool:
    """Whether `sql` is an UNLOAD statement (which has no result set: its rows are in S3)."""
    return sql.lstrip()[:6].upper() == "UNLOAD"


def partitions_select(select: str, columns: Sequence[str], partitioned_by: Sequence[str]) -> str:
    """`select` with its columns listed, partition columns last (Athena's UNLOAD requires it)."""
    rest = [col for col in columns if col not in partitioned_by]
    listed = ", ".join(f'"{col}"' for col in [*rest, *partitioned_by])
    return f"SELECT {listed} FROM ({select.strip().rstrip(';')}) AS unloaded"
