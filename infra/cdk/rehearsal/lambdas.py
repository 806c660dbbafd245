"""The Lambda half of the rehearsal: each function's code built a second time, for this machine,
by the synth's own bundling code and requirement set; proven equal to the `cdk.out` asset; then
run in a clean interpreter (rehearsal/runtime.py) with the template's environment."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickstream_infra.bundling import (
    REQUIREMENT_SETS,
    SOURCE_PACKAGES,
    build_bundle,
    native_install_command,
    normalised,
    pinned_versions,
    source_hash,
)
from clickstream_infra.components.mwaa import LOCK
from rehearsal.assembly import AssemblyError, Function

RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")
# What the Lambda Python runtime itself provides on its path (/var/runtime), which no bundle
# carries: installed here at the versions of requirements.lock, not the runtime's own.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")


def requirement_set(root: Path, function: Function) -> Path:
    """The requirement set the asset was installed from: the one whose pins are exactly the
    asset's distributions. None matches when cdk.out is older than the requirement files, or
    was synthesised with -c bundle=false (sources only)."""
    asset = contents(function.asset).distributions
    for requirements in REQUIREMENT_SETS:
        if pinned_versions(root / requirements) == asset:
            return requirements
    raise AssemblyError(
        f"{function.handler}: the distributions of asset {function.asset_hash[:12]} match no requirement set "
        f"({', '.join(str(r) for r in REQUIREMENT_SETS)}): cdk.out is stale or was synthesised with "
        "-c bundle=false; run `make synth`"
    )


def build_native(root: Path, requirements: Path, out: Path) -> Path:
    """The same bundle for this machine, once per (tree, requirement set): `out/<hash>`."""
    target = out / source_hash(root, with_requirements=True, requirements=requirements)[:16]
    if (target / ".complete").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)  # a build that did not complete
    target.mkdir(parents=True)
    build_bundle(
        root,
        target,
        requirements,
        native_install_command(root, target, requirements),
        hint="a pin with no wheel for this machine's Python?",
    )
    (target / ".complete").write_text("")
    return target


def runtime_dir(root: Path, out: Path) -> Path:
    """The stand-in for Lambda's /var/runtime: boto3 and its dependencies at the lock's versions."""
    pins = pinned_versions(root / LOCK)
    wanted = [f"{name}=={pins[name]}" for name in RUNTIME_PACKAGES]
    target = out / ("runtime-" + hashlib.sha256(" ".join(wanted).encode()).hexdigest()[:12])
    if not (target / ".complete").is_file():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
        subprocess.run([*command, "--no-compile", "--target", str(target), *wanted], check=True)
        (target / ".complete").write_text("")
    return target


@dataclass(frozen=True)
class Contents:
    sources: dict[str, str]  # path under clickstream/ or lambdas/ -> sha256
    distributions: dict[str, str]  # normalised name -> version


def contents(bundle: Path) -> Contents:
    sources = {
        str(p.relative_to(bundle)): hashlib.sha256(p.read_bytes()).hexdigest()
        for package in SOURCE_PACKAGES
        for p in sorted((bundle / package).rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }
    distributions = {}
    for meta in bundle.glob("*.dist-info/METADATA"):
        fields = dict(
            line.split(": ", 1)
            for line in meta.read_text(errors="replace").split("\n\n", 1)[0].splitlines()
            if ": " in line
        )
        distributions[normalised(fields["Name"])] = fields["Version"]
    return Contents(sources=sources, distributions=distributions)


def differences(asset: Contents, native: Contents) -> list[str]:
    """How the local bundle differs from the deployed asset (empty: same sources, same versions)."""
    found = []
    for path in sorted(asset.sources.keys() | native.sources.keys()):
        a, b = asset.sources.get(path), native.sources.get(path)
        if a != b:
            found.append(
                f"source {path}: " + ("only in the asset" if b is None else "only here" if a is None else "differs")
            )
    for name in sorted(asset.distributions.keys() | native.distributions.keys()):
        a, b = asset.distributions.get(name), native.distributions.get(name)
        if a != b:
            found.append(f"distribution {name}: asset {a or 'absent'}, local {b or 'absent'}")
    return found


class Invoker:
    """One warm execution environment of `function`: a clean interpreter holding the handler."""

    def __init__(self, function: Function, bundle: Path, runtime: Path, environment: Mapping[str, str], log: Path):
        self.function = function
        self.invocations = 0
        self.log = log.open("wb")  # this run's logs only
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                str(RUNTIME_SCRIPT),
                str(bundle),
                str(runtime),
                function.handler,
                str(function.timeout_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=dict(environment),
            text=True,
        )

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The handler's answer; raises on an unhandled error or a run past the function's timeout."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"event": event}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.function.handler}: the execution environment died (log: {self.log.name})")
        answer = json.loads(line)
        self.invocations += 1
        if "error" in answer:
            error = answer["error"]
            raise RuntimeError(
                f"{self.function.handler}: {error['type']}: {error['message']}\n{error.get('trace', '')}"
            )
        if answer["timed_out"]:
            raise RuntimeError(
                f"{self.function.handler}: ran {answer['duration_ms']:.0f} ms, past its {self.function.timeout_s} s timeout"
            )
        return dict(answer["result"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


def lambda_environment(function: Function, secrets: Mapping[str, str], endpoint: str, region: str) -> dict[str, str]:
    """What the function's process sees in AWS: the template's variables, secrets resolved as
    CloudFormation resolves dynamic references at deploy time, and what Lambda sets itself. The
    one addition is AWS_ENDPOINT_URL, pointing every AWS call at the embedded stack."""
    name = f"{function.stack}-{function.logical_id}"
    return {
        **function.environment,
        **{var: secrets[secret] for var, secret in function.secrets.items()},
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "rehearsal",
        "AWS_SECRET_ACCESS_KEY": "rehearsal",
        "AWS_ENDPOINT_URL": endpoint,
        "LAMBDA_TASK_ROOT": "/var/task",
        "_HANDLER": function.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
