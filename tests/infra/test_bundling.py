"""Lambda bundling without Docker: the staged sources, the offline pip call, the slim requirement set."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
from clickstream_infra.bundling import (
    MAX_UNZIPPED_BYTES,
    PLATFORMS,
    LambdaBundler,
    pip_download_command,
    pip_install_command,
    source_hash,
    stage_sources,
    unzipped_size,
)
from support.cdk import ROOT, Synth

from clickstream.errors import ConfigError

HANDLERS = ("lambdas.collector.handler", "lambdas.stream_processor.handler")
# Import name of each package in lambdas/requirements.txt that the code imports itself...
IMPORTED = {
    "orjson": "orjson",
    "msgspec": "msgspec",
    "ua-parser": "ua_parser",
    "datasketches": "datasketches",
    "aws-lambda-powertools": "aws_lambda_powertools",
}
# ...and the ones that are there for another package.
SUPPORTING = {"ua-parser-builtins", "numpy", "aws-xray-sdk", "wrapt", "typing-extensions"}
RUNTIME_PROVIDED = {"boto3", "botocore"}  # in every Lambda Python runtime
KAFKA_ONLY = {"confluent_kafka"}  # clickstream.adapters.streams.kafka, imported lazily for transport=kafka only
WHEELHOUSE = ROOT / "infra" / "cdk" / ".wheelhouse"


def test_stage_sources_copies_our_packages_without_caches(tmp_path: Path) -> None:
    stage_sources(ROOT, tmp_path)
    for handler in HANDLERS:
        assert (tmp_path / (handler.replace(".", "/") + ".py")).is_file()
    assert (tmp_path / "clickstream" / "settings.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    assert not (tmp_path / "lambdas" / "requirements.txt").exists()


def test_pip_never_reaches_the_network_when_bundling(tmp_path: Path) -> None:
    cmd = pip_install_command(ROOT, tmp_path / "wheels", tmp_path / "out")
    assert "--no-index" in cmd
    assert cmd[cmd.index("--find-links") + 1] == str(tmp_path / "wheels")
    assert cmd[cmd.index("--python-version") + 1] == "3.13"
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"] == list(PLATFORMS)
    assert "--only-binary=:all:" in cmd and "--no-compile" in cmd
    assert "--no-deps" in cmd  # exactly the set: never a second botocore over the runtime's
    assert cmd[-1] == str(ROOT / "lambdas" / "requirements.txt")
    download = pip_download_command(ROOT, tmp_path / "wheels")
    assert "--no-index" not in download and [
        download[i + 1] for i, a in enumerate(download) if a == "--platform"
    ] == list(PLATFORMS)
    assert str(ROOT / "lambdas" / "requirements.txt") in download
    assert "--no-deps" in download


def test_source_hash_follows_the_sources(tmp_path: Path) -> None:
    for package in ("clickstream", "lambdas"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "lambdas" / "requirements.txt").write_text("orjson==3.13.0\n")
    before = source_hash(tmp_path, with_requirements=True)
    assert source_hash(tmp_path, with_requirements=True) == before
    assert source_hash(tmp_path, with_requirements=False) != before
    (tmp_path / "clickstream" / "__init__.py").write_text("X = 1\n")
    assert source_hash(tmp_path, with_requirements=True) != before
    before = source_hash(tmp_path, with_requirements=True)
    (tmp_path / "clickstream" / "index.html").write_text("<p>dashboard</p>")  # copied, so hashed
    assert source_hash(tmp_path, with_requirements=True) != before
    (tmp_path / "clickstream" / "__pycache__").mkdir()
    (tmp_path / "clickstream" / "__pycache__" / "x.py").write_text("junk")
    after = source_hash(tmp_path, with_requirements=True)
    (tmp_path / "clickstream" / "__pycache__" / "x.py").write_text("other junk")
    assert source_hash(tmp_path, with_requirements=True) == after


def test_bundling_without_wheels_says_how_to_get_them(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    with pytest.raises(ConfigError, match="make lambda-wheels"):
        LambdaBundler(root=ROOT, wheelhouse=tmp_path / "wheels").try_bundle(str(tmp_path / "out"), None)


@pytest.mark.slow
@pytest.mark.skipif(not any(WHEELHOUSE.glob("*.whl")), reason="no wheelhouse: `make lambda-wheels` downloads it once")
def test_full_bundle_from_the_wheelhouse(tmp_path: Path) -> None:
    assert LambdaBundler(root=ROOT, wheelhouse=WHEELHOUSE).try_bundle(str(tmp_path), None)
    # Measured with the pins of lambdas/requirements.txt: 63.6 MB; the API's pyarrow and FastAPI stay out.
    assert unzipped_size(tmp_path) <= MAX_UNZIPPED_BYTES
    assert not (tmp_path / "pyarrow").exists() and not (tmp_path / "fastapi").exists()
    packages = ("orjson", "ua_parser", "ua_parser_builtins", "datasketches", "numpy", "aws_lambda_powertools")
    for package in (*packages, "aws_xray_sdk", "wrapt", "clickstream", "lambdas"):
        assert (tmp_path / package).is_dir(), package
    assert not (tmp_path / "botocore").exists() and not (tmp_path / "jmespath").exists()  # the runtime's
    assert list(tmp_path.glob("orjson/*aarch64*.so")) or list(tmp_path.glob("orjson/*.so")), "arm64 orjson"
    assert not list(tmp_path.rglob("*.pyc"))


@pytest.mark.slow
def test_synthesised_asset_holds_the_handlers(default_synth: Synth) -> None:
    manifest = json.loads((default_synth.outdir / "Ingest.assets.json").read_text())
    (asset,) = [a for a in manifest["files"].values() if a["source"].get("packaging") == "zip"]
    path = default_synth.outdir / asset["source"]["path"]
    assert (path / "lambdas" / "collector" / "handler.py").is_file()
    assert (path / "lambdas" / "stream_processor" / "handler.py").is_file()


def _requirements() -> set[str]:
    from test_api_bundle import _pins

    return set(_pins(ROOT / "lambdas" / "requirements.txt"))


def _third_party_imports(starts: tuple[str, ...], skip: tuple[str, ...] = ()) -> set[str]:
    """Top-level non-stdlib imports reachable from `starts` through clickstream/ and lambdas/ (lazy ones too),
    without entering the modules in `skip`."""

    def file_of(module: str) -> Path | None:
        path = ROOT.joinpath(*module.split("."))
        return next((p for p in (path / "__init__.py", path.with_suffix(".py")) if p.is_file()), None)

    seen: set[str] = set()
    found: set[str] = set()
    todo = list(starts)
    while todo:
        module = todo.pop()
        source = file_of(module)
        if module in seen or module in skip or source is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        for node in ast.walk(ast.parse(source.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.ImportFrom):
                base = parts[: len(parts) - node.level + (source.name == "__init__.py")]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            for name in names:
                top = name.split(".")[0]
                if top in ("clickstream", "lambdas"):
                    todo.append(name)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


def test_lambda_requirements_are_exactly_what_the_handlers_import() -> None:
    assert _requirements() == set(IMPORTED) | SUPPORTING
    imports = _third_party_imports(HANDLERS)
    assert imports - RUNTIME_PROVIDED - KAFKA_ONLY == set(IMPORTED.values())


def test_lambda_requirements_are_closed_under_their_dependencies() -> None:
    """The bundler installs exactly this set (pip --no-deps): every dependency of a package here,
    with the extras it is listed with, is here too at a version it accepts, or comes with the runtime."""
    from test_api_bundle import RUNTIME_PROVIDED as WITH_THE_RUNTIME
    from test_api_bundle import _extras, _lambda_dependencies, _norm, _pins

    path = ROOT / "lambdas" / "requirements.txt"
    pins = _pins(path)
    for dist, extras in _extras(path).items():
        for req in _lambda_dependencies(dist, extras):
            name = _norm(req.name)
            if name in WITH_THE_RUNTIME:
                continue
            assert name in pins, f"{dist} needs {req}: pin it in lambdas/requirements.txt"
            assert req.specifier.contains(pins[name], prereleases=True), f"{dist} needs {req}, pinned {pins[name]}"
