"""The batch half of the rehearsal: the MWAA environment of the assembly, run as MWAA would.

The DAG bundle is the asset the stack uploads to the DAGs bucket (dags/, clickstream/, sql/,
requirements.txt, startup.sh), laid out as uploaded. A fresh virtualenv gets the template's
Airflow release plus exactly that requirements file, whose `--constraint` line points at the
bundle's constraints file (MWAA's worker path is rewritten to the bundle's folder, the one
change). The environment is what the bundle's startup script exports. Then the three DAGs run
with `dag.test()` (rehearsal/airflow_run.py) in that virtualenv, importing the bundle's code only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clickstream_infra.components.mwaa import MWAA_DAGS_DIR

RUNNER = Path(__file__).with_name("airflow_run.py")


@dataclass(frozen=True)
class DagBundle:
    root: Path  # the asset folder: what lands in the DAGs bucket
    airflow_version: str
    dags: Path
    requirements: Path
    startup_script: Path
    configuration: dict[str, str]  # AirflowConfigurationOptions


def find(assembly: Path) -> DagBundle | None:
    """The MWAA environment of the assembly and its uploaded bundle; None without `-c mwaa=true`."""
    for template_path in sorted(assembly.glob("*.template.json")):
        resources = json.loads(template_path.read_text()).get("Resources", {})
        environments = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::MWAA::Environment"]
        if not environments:
            continue
        env = environments[0]
        for resource in resources.values():
            if resource["Type"] != "Custom::CDKBucketDeployment":
                continue
            for key in resource["Properties"].get("SourceObjectKeys", []):
                root = assembly / f"asset.{str(key).removesuffix('.zip')}"
                if (root / env["RequirementsS3Path"]).is_file():
                    return DagBundle(
                        root=root,
                        airflow_version=str(env["AirflowVersion"]),
                        dags=root / env["DagS3Path"],
                        requirements=root / env["RequirementsS3Path"],
                        startup_script=root / env.get("StartupScriptS3Path", "startup.sh"),
                        configuration={str(k): str(v) for k, v in env.get("AirflowConfigurationOptions", {}).items()},
                    )
        raise RuntimeError(
            f"{template_path.name}: an MWAA environment, but no uploaded bundle holding its requirements"
        )
    return None


def startup_environment(bundle: DagBundle) -> dict[str, str]:
    """What the startup script exports, read back from a shell that sourced it, as MWAA does."""
    if not bundle.startup_script.is_file():
        raise RuntimeError(f"the bundle has no startup script {bundle.startup_script.name}")
    shell = subprocess.run(
        ["env", "-i", "sh", "-c", '. "$0" >&2 && env -0', str(bundle.startup_script)],
        capture_output=True,
        text=True,
        check=True,
    )
    exported = dict(item.split("=", 1) for item in shell.stdout.split("\0") if "=" in item)
    return {k: v for k, v in exported.items() if k not in ("PWD", "SHLVL", "_", "OLDPWD")}


def airflow_venv(bundle: DagBundle, workdir: Path) -> tuple[Path, float]:
    """A virtualenv of Airflow `bundle.airflow_version` plus exactly the bundle's requirements file
    under its constraints; reused while the requirements and constraints are unchanged.
    Returns (venv, seconds spent installing: 0 when reused)."""
    requirements = bundle.requirements.read_text()
    constraints = _constraint_paths(requirements)
    digest = hashlib.sha256(bundle.airflow_version.encode() + requirements.encode())
    for path in constraints:
        digest.update(_local(path, bundle).read_bytes())
    venv = workdir / f"airflow-{digest.hexdigest()[:12]}"
    if (venv / ".complete").is_file():
        return venv, 0.0
    for old in workdir.glob("airflow-*"):  # earlier requirements' virtualenvs (0.8-0.9 GB each here)
        shutil.rmtree(old, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    local = venv / "requirements.txt"
    local.write_text(requirements.replace(MWAA_DAGS_DIR, str(bundle.dags)))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    started = time.monotonic()
    subprocess.run([*pip, "install", f"apache-airflow=={bundle.airflow_version}", "-r", str(local)], check=True)
    subprocess.run([*pip, "check"], check=True)
    (venv / ".complete").write_text("")
    return venv, round(time.monotonic() - started, 1)


def run_dags(venv: Path, bundle: DagBundle, env: Mapping[str, str], first: datetime, end: datetime) -> dict[str, Any]:
    """`airflow db migrate`, `airflow dags reserialize` (what MWAA's dag processor does before a
    run: the DAGs and their assets registered, without which Airflow 3.0 fails a task whose
    outlet asset is not active), then every DAG run of rehearsal/airflow_run.py; raises with the
    log on failure."""
    python = str(venv / "bin" / "python")
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([python, "-m", "airflow", *step], env=dict(env), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(step)} failed:\n{_failure_lines(done.stdout + done.stderr)}")
    plain = {"NO_COLOR": "1", "TERM": "dumb"}  # tracebacks as text, not colour boxes
    done = subprocess.run(
        [python, str(RUNNER), first.isoformat(), end.isoformat()], env={**env, **plain}, capture_output=True, text=True
    )
    log = Path(env["AIRFLOW_HOME"], "rehearsal-run.log")
    log.write_text(done.stdout + done.stderr)  # dag.test() logs the tasks, tracebacks included, to stdout
    if done.returncode != 0:
        raise RuntimeError(f"the DAG runs failed (log: {log}):\n{_failure_lines(done.stdout + done.stderr)}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_LINE = re.compile(r"^\s*[\w.]*(Error|Exception)\b.*: ")


def mwaa_given(bundle: DagBundle, workdir: Path, settings: Any, first: datetime) -> dict[str, str]:
    """What MWAA itself gives its components, as the embedded stack can: an Airflow home and
    metadata database of their own, the bundle's dags/ as the DAGs folder and on the path, the
    `aws_default` connection and credentials for the embedded stack, and the local query engine in
    the place of Athena (the one setting of the startup script overridden)."""
    from clickstream.local.airflow import aws_connection

    home = workdir / "airflow"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(bundle.dags),
        "PYTHONPATH": str(bundle.dags),  # MWAA puts the DAGs folder on its components' path
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(settings),
        "AWS_ENDPOINT_URL": str(settings.endpoint_url),
        "AWS_REGION": settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "CLICKSTREAM_QUERY_ENGINE": "local",
        "CLICKSTREAM_HOME": str(workdir / "batch-home"),
        "CLICKSTREAM_BATCH_START": first.isoformat(),
        "GX_ANALYTICS_ENABLED": "False",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _failure_lines(output: str, keep: int = 12) -> str:
    """What failed a run: the errors raised (`SomethingError: message`, each once), then the end
    of the output, without the warnings that bury both."""
    plain = _ANSI.sub("", output)  # Airflow's rich tracebacks colour their text
    lines = [line for line in plain.splitlines() if "Warning:" not in line and "warnings.warn" not in line]
    errors = list(dict.fromkeys(line.strip() for line in lines if _ERROR_LINE.match(line)))
    return "\n".join([*(f"  raised: {e}" for e in errors[-5:]), *lines[-keep:]])


def _constraint_paths(requirements: str) -> list[str]:
    paths = []
    for line in requirements.splitlines():
        text = line.strip()
        if text.startswith(("--constraint", "-c ")):
            paths.append(text.split(None, 1)[1].strip().strip('"').strip("'"))
    if not paths:
        raise RuntimeError(
            "the bundle's requirements.txt has no --constraint line: MWAA requires one since Airflow 2.7.2"
        )
    return paths


def _local(path: str, bundle: DagBundle) -> Path:
    if not path.startswith(MWAA_DAGS_DIR + "/"):
        raise RuntimeError(f"--constraint {path}: not in the DAGs folder ({MWAA_DAGS_DIR}), so not in the bundle")
    local = bundle.dags / path.removeprefix(MWAA_DAGS_DIR + "/")
    if not local.is_file():
        raise RuntimeError(f"--constraint {path}: the bundle has no {local.relative_to(bundle.root)}")
    return local
