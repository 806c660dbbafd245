"""The query API Lambda's own asset: `lambdas/api/requirements.txt` is complete (every import of the
handler, every dependency of those), pinned like the platform, free of DuckDB, and under Lambda's
250 MB once extracted."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from clickstream_infra.bundling import (
    API_REQUIREMENTS,
    INGEST_REQUIREMENTS,
    MAX_UNZIPPED_BYTES,
    LambdaBundler,
    pip_download_command,
    pip_install_command,
    source_hash,
    unzipped_size,
)
from clickstream_infra.components.query_api import API_HANDLER
from packaging.requirements import Requirement
from support.cdk import ROOT, Synth
from test_bundling import WHEELHOUSE, _third_party_imports

API_MODULE = API_HANDLER.rsplit(".", 1)[0]
# In every Lambda Python runtime: boto3 and what it needs. The bundle may carry its own dateutil/six.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3"}
# DuckDB is the local query engine's (clickstream.adapters.query.local); the API in AWS runs Athena.
LOCAL_ENGINE_MODULES = ("clickstream.adapters.query.local",)
# Where the Lambda runs: CPython 3.13 on Amazon Linux 2023, arm64 (for environment markers).
LAMBDA_MARKERS = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "extra": "",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file's `name==version` lines (extras dropped)."""
    pins = {}
    for line in path.read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec and not spec.startswith("-"):
            req = Requirement(spec)
            (pin,) = req.specifier
            assert pin.operator == "==", f"{path}: {spec} is not an exact pin"
            pins[_norm(req.name)] = pin.version
    return pins


def _distributions_of(imports: set[str]) -> set[str]:
    """The installed distributions that provide these top-level import names."""
    providers = metadata.packages_distributions()
    missing = imports - set(providers)
    assert not missing, f"no installed distribution provides {missing}"
    return {_norm(dist) for name in imports for dist in providers[name]}


def _extras(path: Path) -> dict[str, set[str]]:
    """name -> the extras a requirements file asks for (`aws-lambda-powertools[tracer]`)."""
    specs = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    reqs = [Requirement(spec) for spec in specs if spec and not spec.startswith("-")]
    return {_norm(r.name): set(r.extras) for r in reqs}


def _lambda_dependencies(dist: str, extras: set[str] | frozenset[str] = frozenset()) -> list[Requirement]:
    """What `dist` (as installed here) requires on the Lambda platform, with these extras."""
    reqs = [Requirement(r) for r in metadata.requires(dist) or []]
    envs = [{**LAMBDA_MARKERS, "extra": extra} for extra in ("", *extras)]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate(env) for env in envs)]


def _top_level_names(dist: str) -> set[str]:
    """Every top-level module a distribution installs (`_datasketches` too, which top_level.txt omits)."""
    names = set()
    for file in metadata.files(dist) or []:
        top = file.parts[0]
        package = len(file.parts) > 1 and not top.endswith((".dist-info", ".data"))
        if (package or top.endswith((".py", ".so"))) and top not in ("..", "__pycache__"):
            names.add(top.split(".")[0])
    return names


def test_lambda_pins_agree_with_the_platform_requirements() -> None:
    platform = _pins(ROOT / "requirements.txt")
    api, ingest = _pins(ROOT / API_REQUIREMENTS), _pins(ROOT / INGEST_REQUIREMENTS)
    for pins in (api, ingest):
        assert {n: v for n, v in pins.items() if n in platform} == {n: platform[n] for n in pins if n in platform}
    assert {n: v for n, v in api.items() if n in ingest} == {n: ingest[n] for n in api if n in ingest}
    assert {"fastapi", "pyarrow", "sqlglot", "strawberry-graphql"} <= set(api) and "duckdb" not in api


def test_api_requirements_cover_every_import_of_the_handler() -> None:
    imports = _third_party_imports((API_MODULE,), skip=LOCAL_ENGINE_MODULES) - RUNTIME_PROVIDED
    assert "duckdb" not in imports and "pandas" not in imports
    assert "duckdb" in _third_party_imports((API_MODULE,)), "the walk no longer reaches the local engine: drop the skip"
    assert _distributions_of(imports) <= set(_pins(ROOT / API_REQUIREMENTS))


def test_api_requirements_are_closed_under_their_dependencies() -> None:
    """pip would fill a gap with whatever is newest at download time: every dependency is pinned
    here, to a version its dependents accept, and nothing is pinned that nobody needs."""
    pins = _pins(ROOT / API_REQUIREMENTS)
    imported = _distributions_of(_third_party_imports((API_MODULE,), skip=LOCAL_ENGINE_MODULES) - RUNTIME_PROVIDED)
    needed = set(imported)
    for dist in imported:  # the dependencies read below are those of the pinned versions
        assert metadata.version(dist) == pins[dist], f"{dist}: the venv has {metadata.version(dist)}, not {pins[dist]}"
    for dist, extras in _extras(ROOT / API_REQUIREMENTS).items():
        for req in _lambda_dependencies(dist, extras):
            name = _norm(req.name)
            if name in RUNTIME_PROVIDED:
                continue
            assert name in pins, f"{dist} needs {req}: pin it in {API_REQUIREMENTS}"
            assert req.specifier.contains(pins[name], prereleases=True), f"{dist} needs {req}, pinned {pins[name]}"
            needed.add(name)
    assert set(pins) == needed, f"pinned but needed by nothing: {set(pins) - needed}"


def test_download_fetches_both_sets_and_the_api_installs_its_own(tmp_path: Path) -> None:
    download = pip_download_command(ROOT, tmp_path)
    sets = [download[i + 1] for i, a in enumerate(download) if a == "--requirement"]
    assert sets == [str(ROOT / INGEST_REQUIREMENTS), str(ROOT / API_REQUIREMENTS)]
    install = pip_install_command(ROOT, tmp_path, tmp_path / "out", API_REQUIREMENTS)
    assert "--no-index" in install and install[-1] == str(ROOT / API_REQUIREMENTS)
    assert source_hash(ROOT, with_requirements=True, requirements=API_REQUIREMENTS) != source_hash(
        ROOT, with_requirements=True
    )


# The API handler with only what its bundle holds: any other third-party import fails, as in Lambda.
_PROBE = """
import importlib.abc, json, sys
ALLOWED = set(json.loads(sys.argv[1]))

class Bundle(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top in ALLOWED or top in sys.stdlib_module_names or top.startswith("_sysconfigdata"):
            return None
        raise ModuleNotFoundError(f"{name} is not in the API bundle", name=name)

sys.meta_path.insert(0, Bundle())
from lambdas.api.handler import handler
from clickstream.adapters.query import query_engine
from clickstream.settings import Settings
from clickstream.sqlguard import check_read_only

def call(path, method="GET", body=None):
    headers = {"host": "api", "x-api-key": "r" * 32, "content-type": "application/json"}
    http = {"method": method, "path": path, "sourceIp": "192.0.2.1"}
    event = {"version": "2.0", "rawPath": path, "rawQueryString": "", "headers": headers,
             "requestContext": {"http": http}, "body": body, "isBase64Encoded": False}
    return handler(event, None)["statusCode"]

statuses = {p: call(p) for p in ("/healthz", "/openapi.json", "/")}
statuses["/graphql"] = call("/graphql", "POST", json.dumps({"query": "{ __typename }"}))
engine = type(query_engine(Settings.from_env())).__name__
sql = check_read_only("SELECT 1 AS x", [], max_rows=10)
print(json.dumps({"statuses": statuses, "engine": engine, "sql": sql, "modules": sorted(sys.modules)}))
"""


@pytest.mark.slow
def test_api_handler_runs_on_athena_with_only_its_bundle(tmp_path: Path) -> None:
    bundled = set(_pins(ROOT / API_REQUIREMENTS)) | RUNTIME_PROVIDED
    allowed = {"clickstream", "lambdas"} | {name for dist in bundled for name in _top_level_names(dist)}
    env = {
        "PATH": "/usr/bin:/bin",
        "CLICKSTREAM_STAGE": "apitest",  # not "local": no default endpoint, no local engine
        "CLICKSTREAM_QUERY_ENGINE": "athena",
        "CLICKSTREAM_READ_KEY": "r" * 32,
        "CLICKSTREAM_HOME": str(tmp_path),
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no request may leave the machine
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(sorted(allowed))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["statuses"] == {"/healthz": 200, "/openapi.json": 200, "/": 200, "/graphql": 200}
    assert out["engine"] == "AthenaEngine" and "LIMIT" in out["sql"].upper()
    tops = {m.split(".")[0] for m in out["modules"]}
    assert not tops & {"duckdb", "pandas", "confluent_kafka"}
    assert "clickstream.adapters.query.local" not in out["modules"]


@pytest.mark.slow
@pytest.mark.skipif(not any(WHEELHOUSE.glob("*.whl")), reason="no wheelhouse: `make lambda-wheels` downloads it once")
def test_api_bundle_from_the_wheelhouse_fits_lambda(tmp_path: Path) -> None:
    """Measured with the pins of lambdas/api/requirements.txt: 222.3 MB (pyarrow 142.8 MB)."""
    bundler = LambdaBundler(root=ROOT, wheelhouse=WHEELHOUSE, requirements=API_REQUIREMENTS)
    assert bundler.try_bundle(str(tmp_path), None)  # raises itself over the limit; measured again below
    assert unzipped_size(tmp_path) <= MAX_UNZIPPED_BYTES
    installed = {_norm(p.name.split("-")[0]) for p in tmp_path.glob("*.dist-info")}
    assert installed == set(_pins(ROOT / API_REQUIREMENTS)), "every distribution in the bundle is pinned"
    assert list(tmp_path.glob("pyarrow/lib.cpython-313-aarch64-linux-gnu.so")), "cp313 arm64 pyarrow"
    assert not (tmp_path / "duckdb").exists() and not (tmp_path / "pandas").exists()
    assert (tmp_path / "clickstream" / "api" / "static" / "index.html").is_file()


@pytest.mark.slow
def test_serving_deploys_the_api_asset_and_ingest_keeps_the_slim_one(default_synth: Synth) -> None:
    def zip_assets(stack: str) -> set[str]:
        manifest = json.loads((default_synth.outdir / f"{stack}.assets.json").read_text())
        return {a["source"]["path"] for a in manifest["files"].values() if a["source"].get("packaging") == "zip"}

    (api,) = zip_assets("Serving")
    assert zip_assets("Ingest") == zip_assets("Speed") and api not in zip_assets("Ingest")
    assert (default_synth.outdir / api / "lambdas" / "api" / "handler.py").is_file()
