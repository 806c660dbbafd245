"""Glue Data Catalog adapter: the database, the lake's tables (`clickstream.catalog`) and their partitions.

Table definitions come from `clickstream.catalog.TableDef`; the storage format (SerDe, input/output
formats) from `clickstream.sqlfiles.storage_format`, so the DDL in `sql/ddl/`, the CDK app and this
adapter describe a table the same way. Updating a table keeps parameters someone else set (the CDK's
partition projection on AWS) and only replaces columns, location and our own parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.catalog import TableDef
from clickstream.errors import ClickstreamError
from clickstream.settings import Settings
from clickstream.sqlfiles import storage_format, version_parameters

BATCH_PARTITIONS_MAX = 100  # Glue: BatchCreatePartition / BatchUpdatePartition take at most 100 entries
BATCH_DELETE_MAX = 25  # Glue: BatchDeletePartition takes at most 25 entries


class CatalogError(ClickstreamError):
    """A Glue call failed for a reason the caller cannot fix by retrying (e.g. the database is missing)."""


def table_input(table: TableDef, bucket: str) -> dict[str, Any]:
    """The Glue `TableInput` of `table` in `bucket` (no partition projection: see the module docstring)."""
    fmt = storage_format(table)
    return {
        "Name": table.name,
        "Description": table.description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", **fmt.table_parameters, **version_parameters(table)},
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in table.partition_keys],
        "StorageDescriptor": _storage_descriptor(table, table.location(bucket)),
    }


def _storage_descriptor(table: TableDef, location: str, *, columns: bool = True) -> dict[str, Any]:
    fmt = storage_format(table)
    sd: dict[str, Any] = {
        "Location": location,
        "InputFormat": fmt.input_format,
        "OutputFormat": fmt.output_format,
        "SerdeInfo": {"SerializationLibrary": fmt.serde, "Parameters": dict(fmt.serde_parameters)},
    }
    if columns:
        sd["Columns"] = [{"Name": col.name, "Type": col.type} for col in table.columns]
    return sd


class GlueCatalog:
    def __init__(self, client: Any) -> None:
        self._client = client

    def ensure_database(self, name: str, *, description: str = "clickstream lake") -> bool:
        """Create the database if it is missing; True when it was created."""
        try:
            self._client.create_database(DatabaseInput={"Name": name, "Description": description})
        except ClientError as exc:
            if error_code(exc) == "AlreadyExistsException":
                return False
            raise
        return True

    def ensure_table(
        self, database: str, table: TableDef, bucket: str, *, parameters: Mapping[str, str] | None = None
    ) -> bool:
        """Create `table`, or bring its columns, location and format up to date; True when it was created.

        `parameters` are extra table parameters (e.g. a DDL's TBLPROPERTIES); existing ones are kept.
        """
        wanted = table_input(table, bucket)
        wanted["Parameters"].update(parameters or {})
        try:
            current = self._client.get_table(DatabaseName=database, Name=table.name)["Table"]
        except ClientError as exc:
            code = error_code(exc)
            if code != "EntityNotFoundException":
                raise
            if "database" in str(exc).lower() and not self._database_exists(database):
                raise CatalogError(
                    f"Glue database {database!r} does not exist: run `clickstream local up` (or deploy the CDK app)"
                ) from exc
            try:
                self._client.create_table(DatabaseName=database, TableInput=wanted)
            except ClientError as race:
                if error_code(race) != "AlreadyExistsException":
                    raise
                return False
            return True
        merged = {**wanted, "Parameters": {**(current.get("Parameters") or {}), **wanted["Parameters"]}}
        if _same_table(current, merged):
            return False
        self._client.update_table(DatabaseName=database, TableInput=merged)
        return False

    def upsert_partitions(
        self,
        database: str,
        table: TableDef,
        bucket: str,
        partitions: Sequence[Mapping[str, str]],
        *,
        prefixes: Mapping[tuple[str, ...], str] | None = None,
    ) -> int:
        """Register (or re-point) partitions like {"dt": "2026-11-22", "hour": "07"}; returns how many were new.

        A partition is at its Hive prefix (`table.partition_prefix`), or at `prefixes[values]`
        (a key prefix in `bucket`, e.g. a version of a versioned table). Re-pointing an existing
        partition is one BatchUpdatePartition per 100: each partition switches atomically for
        readers (ADR 0008).
        """
        where = dict(prefixes or {})
        created = 0
        for chunk in _chunks([_values(table.partition_keys, p) for p in partitions], BATCH_PARTITIONS_MAX):
            inputs = [self._partition_input(table, bucket, values, where.get(tuple(values))) for values in chunk]
            resp = self._client.batch_create_partition(
                DatabaseName=database, TableName=table.name, PartitionInputList=inputs
            )
            existing = []
            failed = []
            for err in resp.get("Errors", []):
                if err["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException":
                    existing.append(err["PartitionValues"])
                else:
                    failed.append(err)
            if failed:
                raise CatalogError(f"Glue refused partitions of {database}.{table.name}: {failed[:3]}")
            created += len(chunk) - len(existing)
            if existing:
                entries = [
                    {
                        "PartitionValueList": values,
                        "PartitionInput": self._partition_input(table, bucket, values, where.get(tuple(values))),
                    }
                    for values in existing
                ]
                self._client.batch_update_partition(DatabaseName=database, TableName=table.name, Entries=entries)
        return created

    def delete_partitions(self, database: str, table_name: str, partitions: Sequence[Mapping[str, str]]) -> None:
        """Remove partitions (missing ones are ignored)."""
        keys = self._partition_keys(database, table_name)
        values = [_values(keys, p) for p in partitions]
        for chunk in _chunks(values, BATCH_DELETE_MAX):
            resp = self._client.batch_delete_partition(
                DatabaseName=database,
                TableName=table_name,
                PartitionsToDelete=[{"Values": v} for v in chunk],
            )
            failed = [e for e in resp.get("Errors", []) if e["ErrorDetail"]["ErrorCode"] != "EntityNotFoundException"]
            if failed:
                raise CatalogError(f"Glue could not delete partitions of {database}.{table_name}: {failed[:3]}")

    def partitions(self, database: str, table_name: str) -> list[dict[str, str]]:
        """Every registered partition as {key: value}, sorted by value."""
        keys = self._partition_keys(database, table_name)
        out: list[dict[str, str]] = []
        paginator = self._client.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=database, TableName=table_name):
            out.extend(dict(zip(keys, p["Values"], strict=True)) for p in page["Partitions"])
        return sorted(out, key=lambda p: [p[k] for k in keys])

    def partition_locations(
        self, database: str, table_name: str, *, days: Sequence[str] | None = None
    ) -> dict[tuple[str, ...], str]:
        """{partition values: S3 location} of the registered partitions (of `days` only, when given:
        one GetPartitions per day with a `dt` expression). Empty when the table does not exist."""
        paginator = self._client.get_paginator("get_partitions")
        filters = [f"dt = '{day}'" for day in days] if days is not None else [None]
        out: dict[tuple[str, ...], str] = {}
        try:
            for expression in filters:
                kwargs = {"Expression": expression} if expression else {}
                for page in paginator.paginate(DatabaseName=database, TableName=table_name, **kwargs):
                    for p in page["Partitions"]:
                        out[tuple(p["Values"])] = p["StorageDescriptor"]["Location"]
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return {}
            raise
        return out

    def tables(self, database: str) -> list[dict[str, Any]]:
        """The raw Glue `TableList` entries of `database` (empty when the database does not exist)."""
        out: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("get_tables")
        try:
            for page in paginator.paginate(DatabaseName=database):
                out.extend(page["TableList"])
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return []
            raise
        return out

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        """One raw Glue table entry, or None."""
        try:
            return dict(self._client.get_table(DatabaseName=database, Name=name)["Table"])
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return None
            raise

    def _partition_input(
        self, table: TableDef, bucket: str, values: list[str], prefix: str | None = None
    ) -> dict[str, Any]:
        prefix = prefix or table.partition_prefix(dict(zip(table.partition_keys, values, strict=True)))
        location = f"s3://{bucket}/{prefix}"
        return {"Values": values, "StorageDescriptor": _storage_descriptor(table, location)}

    def _partition_keys(self, database: str, table_name: str) -> tuple[str, ...]:
        found = self.table(database, table_name)
        if found is None:
            raise CatalogError(f"no table {database}.{table_name} in the Glue catalog")
        return tuple(k["Name"] for k in found.get("PartitionKeys", []))

    def _database_exists(self, database: str) -> bool:
        try:
            self._client.get_database(Name=database)
        except ClientError:
            return False
        return True


def glue_catalog(settings: Settings) -> GlueCatalog:
    """The Glue catalog of `settings`, with the shared client."""
    from clickstream.adapters import _clients

    return GlueCatalog(_clients.client("glue", settings))


def _values(keys: Sequence[str], partition: Mapping[str, str]) -> list[str]:
    missing = [k for k in keys if k not in partition]
    if missing:
        raise ValueError(f"partition {dict(partition)} lacks {missing}; expected keys {list(keys)}")
    return [str(partition[k]) for k in keys]


def _chunks(items: list[list[str]], size: int) -> Iterator[list[list[str]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _same_table(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    cur_sd, want_sd = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    return (
        cur_sd.get("Columns") == want_sd["Columns"]
        and cur_sd.get("Location") == want_sd["Location"]
        and cur_sd.get("InputFormat") == want_sd["InputFormat"]
        and (cur_sd.get("SerdeInfo") or {}).get("SerializationLibrary") == want_sd["SerdeInfo"]["SerializationLibrary"]
        and current.get("PartitionKeys", []) == wanted["PartitionKeys"]
        and (current.get("Parameters") or {}) == wanted["Parameters"]
    )
