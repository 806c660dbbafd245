"""`make mwaa-lock`: resolve infra/cdk/airflow/constraints.txt, the lock MWAA's workers install
under (docs/adr/0007-mwaa-airflow-version.md).

It starts from Airflow's own constraints for the release (infra/cdk/airflow/airflow-constraints-base.txt),
which keep Airflow's dependencies at the versions it was released and tested with (a fresh
resolution would take today's FastAPI, which Airflow 3.0.6's task runner cannot talk to). Our
pins (DAG_DISTRIBUTIONS, from requirements.lock) replace Airflow's for the same packages, and an
Airflow pin that conflicts with ours is released, one at a time, as pip names it; the header of
the lock lists what was released. A fresh virtualenv then installs `apache-airflow==MWAA_AIRFLOW_VERSION`
plus our pins under that, `pip check` must pass, and its `pip freeze` is the lock. It is resolved
with the Python running this (3.11 here; MWAA 3.0.6 runs 3.12).
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from clickstream_infra.bundling import normalised, pin_of
from clickstream_infra.components.mwaa import (
    AIRFLOW_CONSTRAINTS,
    DAG_DISTRIBUTIONS,
    MWAA_AIRFLOW_VERSION,
    mwaa_requirements,
)

AIRFLOW_BASE = Path("infra") / "cdk" / "airflow" / "airflow-constraints-base.txt"
MAX_RELEASES = 40
_CONFLICT = re.compile(r"The user requested \(constraint\) ([A-Za-z0-9_.\-]+)==")


def _pinned(line: str) -> str | None:
    pin = pin_of(line)
    return pin[0] if pin else None


def _pip_version() -> str:
    from importlib.metadata import version

    return version("pip")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m clickstream_infra.mwaa_lock <repo root>", file=sys.stderr)
        return 2
    root = Path(argv[1]).resolve()
    wanted = [line for line in mwaa_requirements(root).splitlines() if line and not line.startswith(("#", "-"))]
    ours = {normalised(name) for name in DAG_DISTRIBUTIONS}
    base = [line for line in (root / AIRFLOW_BASE).read_text().splitlines() if _pinned(line)]
    kept = [line for line in base if _pinned(line) not in ours]
    released: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mwaa-lock-") as tmp:
        venv, constraints = Path(tmp) / "venv", Path(tmp) / "constraints.txt"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        # the dev venv's pip: venv's bundled one may be older, and names conflicts differently
        subprocess.run([*pip, "install", "--quiet", f"pip=={_pip_version()}"], check=True)
        install = [
            *pip,
            "install",
            f"apache-airflow=={MWAA_AIRFLOW_VERSION}",
            *wanted,
            "-c",
            str(constraints),
        ]
        print(f"resolving apache-airflow=={MWAA_AIRFLOW_VERSION} with our {len(wanted)} pins", flush=True)
        for _ in range(MAX_RELEASES):
            constraints.write_text("\n".join(kept) + "\n")
            # not --quiet: pip then names the conflicting constraint
            tried = subprocess.run([*install, "--dry-run"], capture_output=True, text=True)
            if tried.returncode == 0:
                break
            conflicting = {normalised(n) for n in _CONFLICT.findall(tried.stdout + tried.stderr)}
            if not conflicting:
                print(tried.stdout[-3000:] + tried.stderr[-3000:], file=sys.stderr)
                return 1
            released += sorted(conflicting)
            print(f"  released Airflow's pin of {', '.join(sorted(conflicting))}", flush=True)
            kept = [line for line in kept if _pinned(line) not in conflicting]
        else:
            print(f"still conflicting after {MAX_RELEASES} releases", file=sys.stderr)
            return 1
        print("installing (a few minutes)", flush=True)
        subprocess.run([*install, "--quiet"], check=True)
        subprocess.run([*pip, "check"], check=True)
        frozen = subprocess.run([*pip, "freeze"], check=True, capture_output=True, text=True).stdout
    header = [
        f"# Airflow {MWAA_AIRFLOW_VERSION} and every distribution MWAA's workers install with our requirements,",
        f"# resolved by `make mwaa-lock` on {datetime.now(UTC):%Y-%m-%d} (Python {platform.python_version()}, {platform.machine()})",
        f"# from {AIRFLOW_BASE.name} with requirements.lock's versions of our packages.",
        f"# Airflow pins released because ours conflict with them: {', '.join(released) or 'none'}.",
        "# MWAA reads it through the `--constraint` line of the generated requirements.txt",
        "# (dags/constraints.txt on the workers). Never edit by hand.",
    ]
    target = root / AIRFLOW_CONSTRAINTS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join([*header, *sorted(frozen.splitlines(), key=str.lower)]) + "\n")
    print(f"wrote {AIRFLOW_CONSTRAINTS}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
