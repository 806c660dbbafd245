"""Dependencies that are used, declared once.

pyproject.toml declares them: [project] dependencies (what clickstream/, lambdas/ and
stream_consumers/ import) and the extras `local` (clickstream/local/), `airflow` (dags/), `dev` and
`bench`. The requirements files are the same pins, the form every install uses (under
requirements.lock). Here: the two agree, every runtime pin is imported by the code, and every
third-party import of the code is declared in a group installed wherever that code runs.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "clickstream"
FIRST_PARTY = {"clickstream", "lambdas", "stream_consumers", "dags"}
# Which groups are installed where each part of the code runs (a folder's own entry wins).
CODE_GROUPS = {
    "clickstream": ("dependencies",),
    "clickstream/local": ("dependencies", "local", "airflow"),  # `clickstream airflow serve` too
    "clickstream/emulated": ("dependencies", "local"),  # the stand-ins: moto, the MSK broker
    "lambdas": ("dependencies",),
    "stream_consumers": ("dependencies",),
    "dags": ("dependencies", "airflow"),
    "clickstream/jobs/airflow_compat.py": ("dependencies", "airflow"),  # imported by dags/ only
}
FILE_GROUPS = {
    "requirements.txt": ("dependencies", "local", "airflow"),
    "requirements-dev.txt": ("dev",),
    "requirements-bench.txt": ("bench",),
}
# Runtime pins no module of ours imports, and why each stays.
NOT_IMPORTED = {
    "ua-parser-builtins": "ua-parser's rules, imported by ua-parser: a rules release changes parsed browsers",
    "apache-airflow-providers-amazon": "loaded by Airflow itself: the s3:// URIs of the DAGs' assets, aws_default",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _key(req: Requirement) -> tuple[str, frozenset[str], str]:
    return _norm(req.name), frozenset(req.extras), str(req.specifier)


def _requirements_file(name: str) -> tuple[set[tuple[str, frozenset[str], str]], list[str]]:
    """(own requirements, included files) of a requirements file."""
    reqs, includes = set(), []
    for line in (ROOT / name).read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec.startswith("-r"):
            includes.append(spec.split(None, 1)[1])
        elif spec:
            reqs.add(_key(Requirement(spec)))
    return reqs, includes


@cache
def _groups() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(r) for r in reqs] for group, reqs in groups.items()}


def _pinned(*groups: str) -> set[tuple[str, frozenset[str], str]]:
    return {_key(r) for g in groups for r in _groups()[g] if _norm(r.name) != PROJECT}


def _declared(*groups: str) -> set[str]:
    return {name for name, _, _ in _pinned(*groups)}


@pytest.mark.parametrize("name", list(FILE_GROUPS))
def test_requirements_files_are_the_pyproject_groups(name: str) -> None:
    reqs, includes = _requirements_file(name)
    assert reqs == _pinned(*FILE_GROUPS[name]), f"{name} and pyproject.toml disagree"
    # An included file is the group's self-reference: requirements-dev.txt's `-r requirements.txt`
    # is the `dev` extra's clickstream[local,airflow].
    self_refs = [r for g in FILE_GROUPS[name] for r in _groups()[g] if _norm(r.name) == PROJECT]
    assert [set(FILE_GROUPS[i]) - {"dependencies"} for i in includes] == [set(r.extras) for r in self_refs]


def test_every_pin_is_exact_and_in_one_group() -> None:
    names = [name for group in _groups() for name, _, _ in _pinned(group)]
    assert len(names) == len(set(names)), "a package is pinned in two groups"
    for group in _groups():
        for name, _, spec in _pinned(group):
            assert re.fullmatch(r"==[\w.]+", spec), f"{group}: {name}{spec} is not an exact pin"


def test_every_runtime_pin_is_imported() -> None:
    imported = {module for _, module in _imports()}
    runtime = _declared(*FILE_GROUPS["requirements.txt"])
    unused = {dist for dist in runtime if not _modules(dist) & imported}
    assert unused == set(NOT_IMPORTED), f"pinned, imported nowhere: {unused - set(NOT_IMPORTED)}; remove them"


def test_every_import_is_declared_where_the_code_runs() -> None:
    providers = _providers()
    declared = {}
    for folder, groups in CODE_GROUPS.items():
        pins = _declared(*groups)
        # A meta-package (apache-airflow) declares what it stands for: its direct requirements.
        declared[folder] = pins | {_norm(r) for d in pins if not _own_modules(d) for r in _direct_requirements(d)}
    undeclared = {}
    for path, module in _imports():
        found = providers.get(module)
        if found is None:
            continue  # a parent of the module that is imported (`a` of `import a.b`), or a name in it
        folder = max((f for f in CODE_GROUPS if path.is_relative_to(ROOT / f)), key=len)
        if not found & declared[folder]:
            undeclared[module] = (str(path.relative_to(ROOT)), sorted(found))
    assert not undeclared, f"imported, not declared in pyproject.toml for that code: {undeclared}"


def test_the_imports_walk_sees_what_it_must() -> None:
    imported = {module for _, module in _imports()}
    assert {"moto", "airflow.sdk", "aws_lambda_powertools", "orjson", "ua_parser", "pandas"} <= imported


@cache
def _imports() -> tuple[tuple[Path, str], ...]:
    return tuple(_walk_imports())


def _walk_imports() -> Iterator[tuple[Path, str]]:
    """(file, module) for every third-party module the code imports, lazily or for its types too
    (pandas: a type here, imported at run time by pyarrow's `to_pandas`): every dotted prefix of
    `import a.b.c`, and `x.y` for `from x import y` (y may be a module)."""
    for folder in CODE_GROUPS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                for name in names:
                    parts = name.split(".")
                    if parts[0] in FIRST_PARTY or parts[0] in sys.stdlib_module_names or parts[0] == "__future__":
                        continue
                    yield from ((path, ".".join(parts[:i])) for i in range(1, len(parts) + 1))


@cache
def _providers() -> dict[str, set[str]]:
    """module → the installed distributions whose files are that module."""
    out: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        for module in _files_modules(dist):
            out.setdefault(module, set()).add(name)
    return out


@cache
def _modules(dist: str) -> set[str]:
    """The modules a distribution installs; a meta-package's (apache-airflow) are its dependencies'."""
    return _own_modules(dist) or {m for r in _direct_requirements(dist) for m in _own_modules(r)}


@cache
def _own_modules(dist: str) -> set[str]:
    return _files_modules(metadata.distribution(dist))


def _direct_requirements(dist: str) -> list[str]:
    reqs = [Requirement(r) for r in metadata.requires(dist) or []]
    return [r.name for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def _files_modules(dist: metadata.Distribution) -> set[str]:
    modules = set()
    for file in dist.files or []:
        parts = file.parts
        if parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".data", ".egg-info")):
            continue
        if not file.name.endswith((".py", ".so", ".pyd")):
            continue
        stem = file.name.split(".")[0]
        dotted = [*parts[:-1], stem] if stem != "__init__" else list(parts[:-1])
        if dotted and "__pycache__" not in dotted:
            modules.add(".".join(dotted))
    return modules
