"""MWAA's requirements: generated from requirements.lock, constrained by the committed lock of
Airflow 3.0.6 (infra/cdk/airflow/constraints.txt), and complete for what the DAGs import."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from clickstream_infra.bundling import pinned_versions
from clickstream_infra.components.mwaa import (
    AIRFLOW_CONSTRAINTS,
    DAG_DISTRIBUTIONS,
    LOCK,
    MWAA_AIRFLOW_VERSION,
    mwaa_requirements,
)
from support.cdk import ROOT

# Installed for Airflow itself, not imported by our code: the s3:// asset URIs and the aws
# connection (amazon), TimeDeltaSensor is imported (standard).
LOADED_BY_AIRFLOW = {"apache-airflow-providers-amazon"}


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _module_file(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def dag_imports() -> tuple[set[str], int]:
    """Top-level third-party modules imported by dags/*.py and every clickstream module they reach
    (function-level imports included: tasks import the jobs lazily). Returns (modules, files read)."""
    todo = sorted((ROOT / "dags").glob("*.py"))
    seen: set[Path] = set()
    found: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "clickstream":
                    target = _module_file(name)
                    if target is not None:
                        todo.append(target)
                elif name.startswith("airflow.providers."):  # one distribution per provider
                    found.add(".".join(name.split(".")[:3]))
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found, len(seen)


def test_requirements_pin_the_lock_versions_under_our_constraints() -> None:
    text = mwaa_requirements(ROOT)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == '--constraint "/usr/local/airflow/dags/constraints.txt"'
    lock = pinned_versions(ROOT / LOCK)
    assert lines[1:] == [f"{name}=={lock[name]}" for name in DAG_DISTRIBUTIONS]


def test_the_constraints_are_airflow_for_mwaa_with_our_versions() -> None:
    """The committed lock resolves the MWAA release with exactly the versions the dev venv tests;
    a pin bump without `make mwaa-lock` fails here."""
    constraints = pinned_versions(ROOT / AIRFLOW_CONSTRAINTS)
    lock = pinned_versions(ROOT / LOCK)
    assert constraints["apache-airflow"] == MWAA_AIRFLOW_VERSION
    stale = {
        name: (constraints.get(name), lock[name]) for name in DAG_DISTRIBUTIONS if constraints.get(name) != lock[name]
    }
    assert not stale, f"constraints.txt vs requirements.lock: {stale}; run `make mwaa-lock`"


def test_every_module_the_dags_reach_is_installed_on_the_workers() -> None:
    imports, files = dag_imports()
    assert files > 20, "the walk must follow the jobs the tasks import"
    distributions = packages_distributions()
    needed: dict[str, str] = {}
    for module in sorted(imports):
        if module.startswith("airflow.providers."):
            needed[module] = "apache-airflow-providers-" + _normalise(module.split(".")[2])
            continue
        names = ["apache-airflow"] if module == "airflow" else distributions.get(module)
        assert names, f"{module}: imported by the DAG side but installed by no distribution here"
        needed[module] = _normalise(names[0])
    missing = {m: d for m, d in needed.items() if d not in (*DAG_DISTRIBUTIONS, "apache-airflow")}
    assert not missing, f"imported by the DAG side, installed on no MWAA worker: {missing}; add to DAG_DISTRIBUTIONS"
    unused = set(DAG_DISTRIBUTIONS) - set(needed.values()) - LOADED_BY_AIRFLOW - {"botocore"}  # boto3's, pinned with it
    assert not unused, f"DAG_DISTRIBUTIONS lists what nothing on the DAG side imports: {unused}"
