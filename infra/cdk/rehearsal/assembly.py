"""What the rehearsal reads from a synthesized cloud assembly (`cdk.out`): the Lambda functions
(handler, timeout, memory, environment, code asset), their event source mappings and the
secrets their environment resolves. Pure: JSON in, values out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SECRET_REFERENCE = re.compile(r"^\{\{resolve:secretsmanager:(?P<secret>[^:}]+):SecretString:::\}\}$")


class AssemblyError(Exception):
    """The assembly is missing, stale or holds something the rehearsal cannot run."""


@dataclass(frozen=True)
class Function:
    stack: str
    logical_id: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    asset: Path  # cdk.out/asset.<hash>: the code as `cdk deploy` uploads it
    asset_hash: str
    environment: dict[str, str]  # literal values, secret references resolved through `secrets`
    secrets: dict[str, str] = field(default_factory=dict)  # variable -> secret name it resolves


@dataclass(frozen=True)
class KinesisMapping:
    function: str  # logical id
    stream_name: str
    batch_size: int
    report_failures: bool
    starting_position: str


@dataclass(frozen=True)
class Assembly:
    root: Path
    functions: dict[str, Function]  # by handler module (`lambdas.collector.handler.handler`)
    kinesis_mappings: list[KinesisMapping]
    secrets: dict[str, str]  # secret name -> description

    def function(self, handler: str) -> Function:
        try:
            return self.functions[handler]
        except KeyError:
            raise AssemblyError(
                f"the assembly has no Lambda with handler {handler} (has: {sorted(self.functions)})"
            ) from None


def load(root: Path) -> Assembly:
    """Every template of the assembly at `root` (`infra/cdk/cdk.out`)."""
    manifest = root / "manifest.json"
    if not manifest.is_file():
        raise AssemblyError(f"no cloud assembly at {root}: run `make synth` first")
    templates = {p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in root.glob("*.template.json")}
    functions: dict[str, Function] = {}
    mappings: list[KinesisMapping] = []
    secrets: dict[str, str] = {}
    for stack, template in sorted(templates.items()):
        resources = template.get("Resources", {})
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::SecretsManager::Secret":
                secrets[props.get("Name", logical_id)] = props.get("Description", "")
            elif resource["Type"] == "AWS::Lambda::Function" and props.get("Handler", "").startswith("lambdas."):
                fn = _function(root, stack, logical_id, props, resources)
                functions[fn.handler] = fn
            elif resource["Type"] == "AWS::Lambda::EventSourceMapping":
                mappings.append(_kinesis_mapping(props))
    return Assembly(root=root, functions=functions, kinesis_mappings=mappings, secrets=secrets)


def _function(root: Path, stack: str, logical_id: str, props: dict[str, Any], resources: dict[str, Any]) -> Function:
    key = props.get("Code", {}).get("S3Key")
    if not isinstance(key, str) or not key.endswith(".zip"):
        raise AssemblyError(f"{stack}/{logical_id}: its code is not a zip asset ({props.get('Code')})")
    asset_hash = key.removesuffix(".zip")
    asset = root / f"asset.{asset_hash}"
    if not asset.is_dir():
        raise AssemblyError(f"{stack}/{logical_id}: asset {asset.name} is not in {root}: run `make synth` again")
    environment: dict[str, str] = {}
    secret_vars: dict[str, str] = {}
    for name, value in props.get("Environment", {}).get("Variables", {}).items():
        text = _resolve(value, resources, where=f"{stack}/{logical_id} {name}")
        secret = _SECRET_REFERENCE.match(text)
        if secret:
            secret_vars[name] = secret["secret"]
        else:
            environment[name] = text
    return Function(
        stack=stack,
        logical_id=logical_id,
        handler=props["Handler"],
        runtime=props.get("Runtime", ""),
        timeout_s=int(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        asset=asset,
        asset_hash=asset_hash,
        environment=environment,
        secrets=secret_vars,
    )


def _resolve(value: Any, resources: dict[str, Any], *, where: str) -> str:
    """A CloudFormation value as the deployed function sees it, for the shapes our templates use:
    literals, `Fn::Join`, and `Ref` to a secret (its name: the dynamic reference is resolved later)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolve(p, resources, where=where) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        target = resources.get(value["Ref"], {})
        if target.get("Type") == "AWS::SecretsManager::Secret":
            return str(target["Properties"]["Name"])
    raise AssemblyError(f"{where}: the rehearsal cannot resolve {json.dumps(value)}; teach rehearsal/assembly.py")


def _literal(value: Any) -> str:
    """The literal text of a value, with what only a deployment knows (account, partition) as `?`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_literal(p) for p in parts)
    return "?"


def _kinesis_mapping(props: dict[str, Any]) -> KinesisMapping:
    arn = _literal(props.get("EventSourceArn"))
    if ":stream/" not in arn:
        raise AssemblyError(f"an event source mapping reads {arn}, not a Kinesis stream")
    function = props.get("FunctionName", {})
    return KinesisMapping(
        function=function.get("Ref", "") if isinstance(function, dict) else str(function),
        stream_name=arn.rsplit(":stream/", 1)[1],
        batch_size=int(props.get("BatchSize", 100)),
        report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        starting_position=props.get("StartingPosition", "LATEST"),
    )
