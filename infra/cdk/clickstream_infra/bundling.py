"""Lambda code bundled on this machine, without Docker, and without the network.

An asset is `clickstream/` + `lambdas/` (our sources) plus `pip install --target` of one
requirement set for CPython 3.13 on arm64, from a local wheelhouse that `make lambda-wheels`
downloads once. `--no-index` keeps synth offline: a missing wheel fails the synth with a
message, it never reaches PyPI. pip installs (and downloads) exactly the set, `--no-deps`: each
set lists every dependency of its packages (tests/infra checks the closure) except what the
Lambda runtime provides, so aws-xray-sdk's botocore is the runtime's, never a second copy that
would shadow it next to the runtime's boto3. Two sets, so two assets:

- `lambdas/requirements.txt` (INGEST_REQUIREMENTS): the collector and the stream processor,
  slim (orjson, ua-parser, datasketches, numpy, Powertools and the X-Ray SDK). Measured,
  cp313/arm64: 63,614,844 bytes unzipped.
- `lambdas/api/requirements.txt` (API_REQUIREMENTS): the query API (FastAPI, pydantic,
  strawberry, pyarrow, sqlglot, Powertools...). Measured, cp313/arm64, with the pins of that file:
  222,281,335 bytes unzipped (pyarrow 142.8 MB, numpy 54.7 MB), 39.9 MB under Lambda's limit
  (MAX_UNZIPPED_BYTES). So a zip asset fits, with no layer, no trimming and no container image
  (which would need Docker at synth); the bundler measures every bundle and refuses one over the
  limit, so a pin bump that outgrows it fails `make synth`, not the deploy.

With `-c bundle=false` (tests only) the assets hold our sources without the third-party
packages: they synthesise, and must never be deployed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from clickstream.errors import ConfigError

SOURCE_PACKAGES = ("clickstream", "lambdas")
INGEST_REQUIREMENTS = Path("lambdas") / "requirements.txt"
API_REQUIREMENTS = Path("lambdas") / "api" / "requirements.txt"
REQUIREMENT_SETS = (INGEST_REQUIREMENTS, API_REQUIREMENTS)
RUNTIME = lambda_.Runtime.PYTHON_3_13
PYTHON_VERSION = "3.13"
ARCHITECTURE = lambda_.Architecture.ARM_64
# The Python 3.13 runtime runs on Amazon Linux 2023 (glibc 2.34): manylinux 2014 and 2_28 wheels fit.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# Lambda's quota on a function's code and layers once extracted ("Unzipped size must be smaller
# than 262144000 bytes"): 250 MiB, counted as the sum of the file sizes.
MAX_UNZIPPED_BYTES = 262_144_000
BUNDLER_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # see source_hash
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "requirements.txt")


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a source tree without caches and requirement files."""
    shutil.copytree(src, dst, ignore=_IGNORE, dirs_exist_ok=True)


def stage_sources(root: Path, out: Path) -> None:
    """Copy our packages into `out`."""
    for package in SOURCE_PACKAGES:
        copy_tree(root / package, out / package)


def normalised(name: str) -> str:
    """A distribution's name as pip compares it, extras dropped (`Ua_Parser[x]` -> `ua-parser`)."""
    return name.split("[", 1)[0].strip().lower().replace("_", "-").replace(".", "-")


def pin_of(line: str) -> tuple[str, str] | None:
    """(normalised name, version) of a `name[extras]==version ; marker  # comment` line of a
    requirements, lock or constraints file; None for any other line."""
    text = line.split("#", 1)[0].split(";", 1)[0].strip()
    if "==" not in text or text.startswith("-"):
        return None
    name, version = text.split("==", 1)
    return normalised(name), version.strip()


def pinned_versions(path: Path) -> dict[str, str]:
    """Every `name==version` of a requirements, lock or constraints file, by normalised name."""
    return dict(pin for line in path.read_text().splitlines() if (pin := pin_of(line)))


def _platform_args() -> list[str]:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return ["--only-binary=:all:", *platforms, "--implementation", "cp", "--python-version", PYTHON_VERSION]


def pip_download_command(root: Path, wheelhouse: Path) -> list[str]:
    """The one step that uses the network (`make lambda-wheels`): the Lambda platform's wheels of
    every requirement set, together (their shared pins must agree) into one wheelhouse."""
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    sets = [arg for r in REQUIREMENT_SETS for arg in ("--requirement", str(root / r))]
    return [*pip, *_platform_args(), "--dest", str(wheelhouse), *sets]


def pip_install_command(
    root: Path, wheelhouse: Path, target: Path, requirements: Path = INGEST_REQUIREMENTS
) -> list[str]:
    """pip for the Lambda platform, from the wheelhouse only (`--no-index`: never the network)."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", "--no-deps"]
    return [
        *pip,
        "--find-links",
        str(wheelhouse),
        "--target",
        str(target),
        *_platform_args(),
        "--no-compile",  # this machine's Python would write .pyc files for the wrong version
        "--requirement",
        str(root / requirements),
    ]


def _source_files(root: Path) -> list[Path]:
    """What stage_sources copies: every file of our packages (the dashboard's static files too)."""
    return [
        p
        for pkg in SOURCE_PACKAGES
        for p in (root / pkg).rglob("*")
        if p.is_file() and p.name != "requirements.txt" and p.suffix not in (".pyc", ".pyo")
    ]


def source_hash(root: Path, *, with_requirements: bool, requirements: Path = INGEST_REQUIREMENTS) -> str:
    """A hash of everything that goes into the asset, so an unchanged tree reuses the bundle. This
    file is part of it: cdk keys a custom-hashed asset by the hash alone and never bundles a known
    hash again, so a change to how bundles are built must change the hash too."""
    files = _source_files(root)
    if with_requirements:
        files.append(root / requirements)
    salt = f"{RUNTIME.name}/{PYTHON_VERSION}/{PLATFORMS}/{with_requirements}/{requirements.as_posix()}/{BUNDLER_HASH}"
    return files_hash(root, files, salt=salt)


def files_hash(root: Path, files: list[Path], *, salt: str) -> str:
    """sha256 over the relative names and contents of `files` (caches skipped)."""
    digest = hashlib.sha256(salt.encode())
    for path in sorted(p for p in files if "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def unzipped_size(path: Path) -> int:
    """Bytes of the files under `path`, as Lambda counts an extracted deployment package."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@jsii.implements(cdk.ILocalBundling)
class LambdaBundler:
    """cdk's local bundling hook: never falls back to Docker."""

    def __init__(self, *, root: Path, wheelhouse: Path | None, requirements: Path = INGEST_REQUIREMENTS) -> None:
        self.root, self.wheelhouse, self.requirements = root, wheelhouse, requirements

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        out = Path(output_dir)
        if self.wheelhouse is None:
            stage_sources(self.root, out)
            return True
        if not any(self.wheelhouse.glob("*.whl")):
            raise ConfigError(
                f"no Lambda wheels in {self.wheelhouse}: run `make lambda-wheels` once (the only step that "
                "downloads), or synthesise with -c bundle=false (tests only: not deployable)"
            )
        build_bundle(
            self.root,
            out,
            self.requirements,
            pip_install_command(self.root, self.wheelhouse, out, self.requirements),
            hint=f"a wheel missing from {self.wheelhouse}? run `make lambda-wheels` after changing a requirements file",
        )
        return True


def build_bundle(root: Path, out: Path, requirements: Path, install: list[str], *, hint: str) -> None:
    """A Lambda bundle in `out`: our sources, then `install` (pip of one requirement set into
    `out`), without console scripts, refused over Lambda's unzipped limit. The synth runs it for
    the Lambda platform; the rehearsal (infra/cdk/rehearsal) for this machine's."""
    stage_sources(root, out)
    result = subprocess.run(install, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigError(f"bundling {requirements} failed ({hint}):\n{result.stderr[-2000:]}")
    shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts: useless in a Lambda
    size = unzipped_size(out)
    if size > MAX_UNZIPPED_BYTES:
        raise ConfigError(
            f"the Lambda bundle of {requirements} is {size / 1e6:.1f} MB unzipped, over Lambda's "
            f"{MAX_UNZIPPED_BYTES / 1e6:.1f} MB: drop a package from it, or move that function to a "
            "container image"
        )


def native_install_command(root: Path, target: Path, requirements: Path) -> list[str]:
    """pip of the same requirement set (same pins, `--no-deps`, wheels only) for the machine and
    Python running this, from the package index: the rehearsal's twin of `pip_install_command`,
    since a cp313/arm64 bundle cannot run here."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    return [
        *pip,
        "--only-binary=:all:",
        "--target",
        str(target),
        "--no-compile",
        "--requirement",
        str(root / requirements),
    ]


class LambdaAsset:
    """One code asset (handlers differ) for the Lambdas of one requirement set: a new `Code` per
    stack, the same bundling options, so each bundle is built once per synth."""

    def __init__(self, *, root: Path, wheelhouse: Path, bundle: bool, requirements: Path = INGEST_REQUIREMENTS) -> None:
        self.root = root
        self.requirements = requirements
        self.asset_hash = source_hash(root, with_requirements=bundle, requirements=requirements)
        bundler = LambdaBundler(root=root, wheelhouse=wheelhouse if bundle else None, requirements=requirements)
        self.bundling = cdk.BundlingOptions(
            image=RUNTIME.bundling_image,  # required by the API; the local bundler never falls back to it
            # jsii calls try_bundle(output_dir, options) positionally; the stub spells options as kwargs.
            local=bundler,  # type: ignore[arg-type]
        )

    def code(self) -> lambda_.Code:
        return lambda_.Code.from_asset(
            str(self.root / "lambdas"),  # nominal: the bundler copies from `root`; the custom hash skips fingerprinting
            asset_hash=self.asset_hash,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            bundling=self.bundling,
        )


def main(argv: list[str]) -> int:
    """`python -m clickstream_infra.bundling download <root> <wheelhouse>` (used by `make lambda-wheels`)."""
    if len(argv) != 4 or argv[1] != "download":
        print("usage: python -m clickstream_infra.bundling download <repo root> <wheelhouse>", file=sys.stderr)
        return 2
    root, wheelhouse = Path(argv[2]), Path(argv[3])
    shutil.rmtree(wheelhouse, ignore_errors=True)
    return subprocess.run(pip_download_command(root, wheelhouse), check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
