"""Speed: realtime and checkpoint tables, the dead-letter queue, the stream processor."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from clickstream_infra import arns
from clickstream_infra.bundling import LambdaAsset
from clickstream_infra.components.speed import DeadLetterQueue, PlatformTables, StreamProcessor
from clickstream_infra.config import DeployConfig


class SpeedStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeployConfig, code: LambdaAsset, **kw: Any) -> None:
        super().__init__(scope, construct_id, **kw)
        res = cfg.resources
        self.tables = PlatformTables(self, "Tables", specs=res.tables)
        (dlq_spec,) = res.queues
        self.dead_letters = DeadLetterQueue(self, "DeadLetters", spec=dlq_spec)
        stream = kinesis.Stream.from_stream_arn(self, "Events", arns.stream(self, res.stream.name))
        self.processor = StreamProcessor(
            self,
            "StreamProcessor",
            cfg=cfg,
            stream=stream,
            counters_table=cfg.settings.names.realtime_table,
            dead_letters=self.dead_letters.queue,
            code=code.code(),
        )
        self.processor.node.add_dependency(self.tables)
