"""`make demo` end to end, on its own ports: the totals it prints are what S3 really holds."""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import boto3
import pyarrow.parquet as pq

from clickstream.settings import ResourceNames

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_totals_match_what_s3_holds(tmp_path: Path) -> None:
    aws_port = _free_port()
    env = os.environ | {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}",
        "CLICKSTREAM_COLLECTOR_PORT": str(_free_port()),
        "CLICKSTREAM_API_PORT": str(_free_port()),
        "CLICKSTREAM_PROMETHEUS_PORT": str(_free_port()),
        "CLICKSTREAM_HOME": str(tmp_path / "home"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    for var in ("CLICKSTREAM_KAFKA_BOOTSTRAP", "CLICKSTREAM_STAGE", "CLICKSTREAM_TRANSPORT", "CLICKSTREAM_TOPIC"):
        env.pop(var, None)
    out = tmp_path / "demo.json"
    cmd = [sys.executable, "-m", "clickstream", "demo", "--duration", "8", "--users", "40", "--kafka-events", "400"]
    try:
        proc = subprocess.run(
            [*cmd, "--keep", "--json", str(out)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=480
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "✓ every accepted Kinesis event is in S3 raw" in proc.stdout
        result = json.loads(out.read_text())

        # Count S3 ourselves, with a plain boto3 client (not the demo's code).
        s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        bucket = ResourceNames.for_stage("local").bucket
        lines: list[dict] = []
        bad: list[dict] = []
        keys = Counter[str]()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                if not obj["Key"].startswith("raw/"):
                    continue  # curated Parquet, quality reports: the batch layer's, checked below
                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                rows = [json.loads(line) for line in body.splitlines() if line]
                if obj["Key"].startswith("raw/events/"):
                    keys["raw"] += 1
                    lines.extend(rows)
                elif obj["Key"].startswith("raw/bad/"):
                    bad.extend(rows)
        raw_k, raw_f = result["raw_kinesis"], result["raw_kafka"]
        assert keys["raw"] == raw_k["objects"] + raw_f["objects"]
        assert len(lines) == raw_k["events"] + raw_f["events"]
        accepted = (
            result["collector"]["accepted"] + result["legacy_and_invalid"]["accepted"] + result["kafka"]["accepted"]
        )
        assert len(lines) == accepted
        assert len(bad) == result["bad_rows"]["rows"] == result["legacy_and_invalid"]["rejected"]
        assert result["collector"]["sent"] > 1000 and result["kafka"]["accepted"] == 400
        # The batch layer: the curated table is the archive's distinct events, and agrees with the speed layer.
        curated_keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/events/")
            for o in page.get("Contents", [])
        ]
        curated_ids = [
            event_id
            for key in curated_keys
            for event_id in pq.read_table(
                io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), columns=["event_id"]
            )
            .column("event_id")
            .to_pylist()
        ]
        assert sorted(curated_ids) == sorted({row["event_id"] for row in lines})
        assert result["batch"]["curated"]["events"] == len(curated_ids)
        assert int(result["batch"]["reconciliation"]["mismatches"]) == 0  # the JSON has DynamoDB numbers as text
    finally:
        subprocess.run([sys.executable, "-m", "clickstream", "local", "down"], env=env, cwd=ROOT, timeout=60)
