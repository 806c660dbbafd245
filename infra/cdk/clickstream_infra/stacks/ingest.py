"""Ingest: the Kinesis stream (optionally MSK Serverless too) and the collector behind an HTTP API."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from clickstream_infra.bundling import LambdaAsset
from clickstream_infra.components.collector_api import CollectorApi
from clickstream_infra.components.functions import log_retention
from clickstream_infra.components.network import PrivateNetwork
from clickstream_infra.components.stream import EventsStream, ServerlessKafka
from clickstream_infra.config import DeployConfig


class IngestStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, code: LambdaAsset, **kw: Any) -> None:
        super().__init__(scope, construct_id, **kw)
        self.events = EventsStream(self, "Events", spec=cfg.resources.stream, shards=cfg.shards)
        self.collector = CollectorApi(self, "Collector", cfg=cfg, stream=self.events.stream, code=code.code())
        if cfg.msk:
            network = PrivateNetwork(self, "Network", egress=False, retention=log_retention(cfg.log_retention_days))
            self.kafka = ServerlessKafka(self, "Kafka", name=cfg.prefix, vpc=network.vpc)
