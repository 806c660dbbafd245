"""Observability stack: the alarms the runbook relies on, wired to the alarm topic, and the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from support.cdk import Synth

from clickstream.capacity import Workload

pytestmark = pytest.mark.slow


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm")}


def _watched(alarm: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(namespace, metric, the value of its first dimension) for a plain or a math alarm."""
    metrics = [{"MetricStat": {"Metric": alarm}}] if "MetricName" in alarm else alarm["Metrics"]
    out = set()
    for m in metrics:
        if "MetricStat" not in m:
            continue
        metric = m["MetricStat"]["Metric"]
        dims = metric.get("Dimensions") or [{"Value": ""}]
        value = dims[0]["Value"]
        out.add((metric["Namespace"], metric["MetricName"], value if isinstance(value, str) else "<ref>"))
    return out


@pytest.mark.parametrize(
    ("namespace", "metric", "dimension"),
    [
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "clickstream-dev-events"),
        ("AWS/Lambda", "IteratorAge", "clickstream-dev-stream-processor"),
        ("AWS/Lambda", "Errors", "clickstream-dev-stream-processor"),
        ("AWS/Lambda", "Throttles", "clickstream-dev-stream-processor"),
        ("AWS/Lambda", "Errors", "clickstream-dev-collector"),
        ("AWS/Lambda", "Throttles", "clickstream-dev-collector"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "clickstream-dev-dlq"),
        ("AWS/DynamoDB", "WriteThrottleEvents", "clickstream-dev-realtime"),
        ("AWS/DynamoDB", "ReadThrottleEvents", "clickstream-dev-realtime"),
        ("AWS/DynamoDB", "WriteThrottleEvents", "clickstream-dev-checkpoints"),
        ("AWS/Firehose", "DeliveryToS3.Success", "clickstream-dev-raw-events"),
        ("AWS/Firehose", "DeliveryToS3.DataFreshness", "clickstream-dev-raw-events"),
        ("AWS/ApiGateway", "5xx", "<ref>"),
    ],
)
def test_alarm_watches(default_synth: Synth, namespace: str, metric: str, dimension: str) -> None:
    watched = set().union(*(_watched(a) for a in _alarms(default_synth).values()))
    assert (namespace, metric, dimension) in watched


def test_every_alarm_notifies_the_alarm_topic(default_synth: Synth) -> None:
    template = default_synth.template("observability")
    (topic_id,) = template.find_resources("AWS::SNS::Topic", {"Properties": {"TopicName": "clickstream-dev-alarms"}})
    alarms = _alarms(default_synth)
    assert len(alarms) == Workload(rps=1, bytes_per_event=1, retention_days=1).alarms  # what the cost model counts
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_firehose_failure_alarm_fires_below_full_success(default_synth: Synth) -> None:
    alarm = _alarms(default_synth)["clickstream-dev-firehose-delivery-failures"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Statistic"]) == ("LessThanThreshold", 1, "Average")


def test_dashboard_and_email_subscription(default_synth: Synth, flagged_synth: Synth) -> None:
    default_synth.template("observability").has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "clickstream-dev"}
    )
    assert default_synth.resources("AWS::SNS::Subscription") == []
    flagged_synth.template("observability").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )
