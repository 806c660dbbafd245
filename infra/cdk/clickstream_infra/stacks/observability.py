"""Observability: one dashboard and the alarms that say the pipeline is falling behind or losing data."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from clickstream.deployment_defaults import RAW_DELIVERY
from clickstream_infra.config import DeployConfig
from clickstream_infra.stacks.lake import delivery_stream_name

FIVE_MINUTES = Duration.minutes(5)
STREAM_ITERATOR_AGE_MS = 5 * 60 * 1000  # readers more than 5 minutes behind the stream
PROCESSOR_ITERATOR_AGE_MS = 60 * 1000  # the speed layer should stay within a minute
API_5XX_PERCENT = 1


def _metric(namespace: str, name: str, dims: dict[str, str], stat: str = "Sum") -> cw.Metric:
    return cw.Metric(namespace=namespace, metric_name=name, dimensions_map=dims, statistic=stat, period=FIVE_MINUTES)


class ObservabilityStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: DeployConfig, api: apigwv2.IHttpApi, **kw: Any
    ) -> None:
        super().__init__(scope, construct_id, **kw)
        names, prefix = cfg.settings.names, cfg.prefix
        self.topic = sns.Topic(self, "Alarms", topic_name=f"{prefix}-alarms", enforce_ssl=True)
        # cdk-nag 3.0.2 reports no SNS2 (encryption) finding for this topic; it carries alarm states only.
        if cfg.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(cfg.alarm_email))
        functions = {"collector": f"{prefix}-collector", "stream-processor": f"{prefix}-stream-processor"}
        delivery = delivery_stream_name(cfg)
        stream = {"StreamName": names.stream}
        metrics: dict[str, tuple[cw.IMetric, float]] = {
            "stream-iterator-age": (
                _metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream, "Maximum"),
                STREAM_ITERATOR_AGE_MS,
            ),
            "processor-iterator-age": (
                _metric("AWS/Lambda", "IteratorAge", {"FunctionName": functions["stream-processor"]}, "Maximum"),
                PROCESSOR_ITERATOR_AGE_MS,
            ),
            "dead-letters": (
                _metric(
                    "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": names.dead_letter_queue}, "Maximum"
                ),
                0,
            ),
            "firehose-data-freshness": (
                _metric("AWS/Firehose", "DeliveryToS3.DataFreshness", {"DeliveryStreamName": delivery}, "Maximum"),
                3 * RAW_DELIVERY.buffer_interval_s,
            ),
        }
        for short, fn in functions.items():
            for name in ("Errors", "Throttles"):
                metrics[f"{short}-{name.lower()}"] = (_metric("AWS/Lambda", name, {"FunctionName": fn}), 0)
        for table in (names.realtime_table, names.batch_table, names.checkpoints_table):
            throttles = cw.MathExpression(
                expression="r + w",
                using_metrics={
                    "r": _metric("AWS/DynamoDB", "ReadThrottleEvents", {"TableName": table}),
                    "w": _metric("AWS/DynamoDB", "WriteThrottleEvents", {"TableName": table}),
                },
                label=f"{table} throttled requests",
                period=FIVE_MINUTES,
            )
            metrics[f"{table.removeprefix(prefix + '-')}-throttles"] = (throttles, 0)
        api_dims = {"ApiId": api.api_id, "Stage": "$default"}
        metrics["collector-5xx-percent"] = (
            cw.MathExpression(
                expression="100 * e / MAX([c, 1])",
                using_metrics={
                    "e": _metric("AWS/ApiGateway", "5xx", api_dims),
                    "c": _metric("AWS/ApiGateway", "Count", api_dims),
                },
                label="collector 5xx %",
                period=FIVE_MINUTES,
            ),
            API_5XX_PERCENT,
        )
        self.alarms = [self._alarm(prefix, short, metric, threshold) for short, (metric, threshold) in metrics.items()]
        # Firehose failures: the share of successful S3 deliveries drops below 100 %.
        success = _metric("AWS/Firehose", "DeliveryToS3.Success", {"DeliveryStreamName": delivery}, "Average")
        self.alarms.append(self._alarm(prefix, "firehose-delivery-failures", success, 1, below=True))
        self.dashboard = self._dashboard(prefix, stream, functions, delivery, api_dims, names.realtime_table)

    def _alarm(self, prefix: str, short: str, metric: cw.IMetric, threshold: float, *, below: bool = False) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            short,
            alarm_name=f"{prefix}-{short}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=(
                cw.ComparisonOperator.LESS_THAN_THRESHOLD if below else cw.ComparisonOperator.GREATER_THAN_THRESHOLD
            ),
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        return alarm

    def _dashboard(
        self,
        prefix: str,
        stream: dict[str, str],
        functions: dict[str, str],
        delivery: str,
        api_dims: dict[str, str],
        realtime_table: str,
    ) -> cw.Dashboard:
        def graph(title: str, *metrics: cw.IMetric) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=list(metrics), width=8)

        board = cw.Dashboard(self, "Dashboard", dashboard_name=prefix)
        fd = {"DeliveryStreamName": delivery}
        board.add_widgets(
            graph("Collector requests", _metric("AWS/ApiGateway", "Count", api_dims)),
            graph("Collector 4xx / 5xx", *(_metric("AWS/ApiGateway", m, api_dims) for m in ("4xx", "5xx"))),
            graph("Stream records in", _metric("AWS/Kinesis", "IncomingRecords", stream)),
        )
        board.add_widgets(
            graph("Stream throttled writes", _metric("AWS/Kinesis", "WriteProvisionedThroughputExceeded", stream)),
            graph(
                "Iterator age (ms)",
                _metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream, "Maximum"),
                _metric("AWS/Lambda", "IteratorAge", {"FunctionName": functions["stream-processor"]}, "Maximum"),
            ),
            graph(
                "Lambda errors",
                *(_metric("AWS/Lambda", "Errors", {"FunctionName": fn}) for fn in functions.values()),
            ),
        )
        board.add_widgets(
            graph(
                "Realtime writes (WCU)",
                _metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": realtime_table}),
            ),
            graph("Firehose records to S3", _metric("AWS/Firehose", "DeliveryToS3.Records", fd)),
            graph("Firehose freshness (s)", _metric("AWS/Firehose", "DeliveryToS3.DataFreshness", fd, "Maximum")),
        )
        board.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return board
