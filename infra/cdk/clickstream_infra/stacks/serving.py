"""Serving: the query API and live dashboard behind an HTTP API (reads the lake, tables and Athena)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from clickstream_infra.bundling import LambdaAsset
from clickstream_infra.components.query_api import QueryApi
from clickstream_infra.config import DeployConfig


class ServingStack(Stack):
    """`code` is the API's own asset (`lambdas/api/requirements.txt`), not the ingest Lambdas' one."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, code: LambdaAsset, **kw: Any) -> None:
        super().__init__(scope, construct_id, **kw)
        self.query_api = QueryApi(self, "QueryApi", cfg=cfg, code=code.code())
