"""Orchestration: an IAM role for a self-managed Airflow by default, MWAA behind `-c mwaa=true`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from clickstream_infra.components.mwaa import REQUIREMENTS_KEY, STARTUP_SCRIPT_KEY, DagsBundler
from support.cdk import ROOT, Synth

pytestmark = pytest.mark.slow


def test_self_managed_airflow_role(default_synth: Synth) -> None:
    template = default_synth.template("orchestration")
    assert default_synth.resources("AWS::MWAA::Environment") == []
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "clickstream-dev-airflow",
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"AWS": Match.any_value()}})]}
            ),
        },
    )
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in s["Action"]}
    assert {"s3:GetObject", "s3:PutObject", "glue:CreateTable", "athena:StartQueryExecution"} <= actions
    assert "dynamodb:BatchWriteItem" in actions


def test_mwaa_environment_behind_the_flag(flagged_synth: Synth) -> None:
    template = flagged_synth.template("orchestration")
    template.has_resource_properties(
        "AWS::MWAA::Environment",
        {
            "Name": "clickstream-qa",
            "DagS3Path": "dags",
            "RequirementsS3Path": REQUIREMENTS_KEY,
            "StartupScriptS3Path": STARTUP_SCRIPT_KEY,
            "WebserverAccessMode": "PRIVATE_ONLY",
            "EnvironmentClass": "mw1.small",
            "SourceBucketArn": {"Fn::Join": ["", Match.array_with([":s3:::airflow-clickstream-qa-"])]},
            "NetworkConfiguration": {"SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()},
            "LoggingConfiguration": Match.object_like(
                {
                    "TaskLogs": {"Enabled": True, "LogLevel": "INFO"},
                    "SchedulerLogs": {"Enabled": True, "LogLevel": "INFO"},
                }
            ),
        },
    )
    template.has_resource_properties("AWS::S3::Bucket", {"VersioningConfiguration": {"Status": "Enabled"}})
    template.resource_count_is("Custom::CDKBucketDeployment", 1)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {
                    "Statement": [
                        Match.object_like(
                            {"Principal": {"Service": ["airflow-env.amazonaws.com", "airflow.amazonaws.com"]}}
                        )
                    ]
                }
            )
        },
    )


def test_dags_bundle_layout(tmp_path: Path) -> None:
    from clickstream_infra.components.mwaa import AIRFLOW_CONSTRAINTS, CONSTRAINTS_KEY, mwaa_requirements

    assert DagsBundler(ROOT).try_bundle(str(tmp_path), None)
    # requirements.txt is generated, and its --constraint file travels in dags/, where MWAA reads it
    assert (tmp_path / REQUIREMENTS_KEY).read_text() == mwaa_requirements(ROOT)
    assert (tmp_path / CONSTRAINTS_KEY).read_bytes() == (ROOT / AIRFLOW_CONSTRAINTS).read_bytes()
    assert f'--constraint "/usr/local/airflow/{CONSTRAINTS_KEY}"' in mwaa_requirements(ROOT)
    assert (tmp_path / "dags" / "clickstream" / "settings.py").is_file()  # importable from the DAGs folder
    dag_files = sorted(p.name for p in (ROOT / "dags").glob("*.py"))
    assert sorted(p.name for p in (tmp_path / "dags").glob("*.py")) == dag_files
    assert not list(tmp_path.rglob("__pycache__"))
    # only the DAG files are DAG files: Airflow would parse clickstream/*.py too (and list broken DAGs)
    assert (tmp_path / "dags" / ".airflowignore").read_text().split() == ["clickstream/", "sql/"]


def test_dags_bundle_carries_the_sql_its_jobs_read(tmp_path: Path) -> None:
    """The batch-metrics job lists and reads sql/ at run time: the bundle must find it on its own."""
    from clickstream import sqlfiles

    assert DagsBundler(ROOT).try_bundle(str(tmp_path), None)
    # A clean interpreter with only the bundle's dags/ on the path, as on an MWAA worker: no
    # site-packages (-S), so the editable install of this checkout cannot answer instead.
    probe = "import json, sys; sys.path.insert(0, sys.argv[1]); from clickstream import sqlfiles as f; "
    probe += "print(json.dumps([str(f.sql_dir()), f.sql_files()]))"
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", probe, str(tmp_path / "dags")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-1500:]  # e.g. "no SQL folder sql/ at ...": the bundle lacks it
    found_in, files = json.loads(done.stdout)
    assert Path(found_in) == tmp_path / "dags" / "sql"
    assert files == sqlfiles.sql_files()
    assert any(f.startswith("metrics/") for f in files)


def test_the_workers_get_the_stages_settings_from_the_startup_script(tmp_path: Path) -> None:
    """MWAA runs startup.sh before Airflow: sourced, it gives Settings.from_env() the stage the
    Lambdas get, where without it the settings refuse to fall back to the laptop's defaults."""
    from clickstream_infra.components.functions import platform_environment
    from clickstream_infra.config import config_from_context

    from clickstream.errors import ConfigError
    from clickstream.settings import Settings

    cfg = config_from_context({"stage": "qa", "mwaa": "true"}.get)
    assert DagsBundler(ROOT, platform_environment(cfg)).try_bundle(str(tmp_path), None)
    mwaa = {"MWAA_AIRFLOW_COMPONENT": "worker", "AWS_EXECUTION_ENV": "Amazon_MWAA_306", "PATH": "/usr/bin:/bin"}
    with pytest.raises(ConfigError, match="without CLICKSTREAM_STAGE"):
        Settings.from_env(mwaa)  # what a worker without the script would do
    sourced = subprocess.run(
        ["sh", "-c", f". ./{STARTUP_SCRIPT_KEY} && env -0"], cwd=tmp_path, env=mwaa, capture_output=True, check=True
    )
    env = dict(line.split("=", 1) for line in sourced.stdout.decode().split("\0") if "=" in line)
    assert {k: env[k] for k in platform_environment(cfg)} == platform_environment(cfg)
    settings = Settings.from_env(env)
    assert (settings.stage, settings.query_engine, settings.endpoint_url) == ("qa", "athena", None)
    assert settings.names.bucket == cfg.settings.names.bucket
