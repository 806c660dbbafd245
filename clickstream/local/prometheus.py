"""Prometheus in the embedded stack: Debian's `prometheus` binary, when it is installed.

`apt-get install prometheus` gives a server that systemd would start; there is no systemd here, so
the stack runs it like its other services. It scrapes the query API's `/metrics` (port
`settings.api_port`) every 5 s with the jobs of `prometheus/prometheus.yml` (the compose file's), from
the template `prometheus/prometheus.local.yml`: `python -m clickstream.local.prometheus` renders the
template into the state folder and then *becomes* the prometheus process (exec), so the stack's pid,
health check and `down` all address Prometheus itself.

Without the binary the service is simply not registered (`optional_services`): `make up` works the same,
minus Prometheus; the API's `/metrics` is still there for any Prometheus you run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.local import processes
from clickstream.local.spec import Health, ServiceSpec
from clickstream.local.state import ProcessRecord
from clickstream.settings import Settings

BINARY: Final = "prometheus"
DEFAULT_PORT: Final = c.DEFAULT_PROMETHEUS_PORT
ENV_PORT: Final = c.ENV_PROMETHEUS_PORT
STATE_DIR: Final = "prometheus"
CONFIG_FILE: Final = f"{STATE_DIR}/prometheus.yml"
TEMPLATE: Final = Path(__file__).resolve().parents[2] / "prometheus" / "prometheus.local.yml"
RETENTION: Final = "2d"  # a laptop's Prometheus: enough for the dashboards' ranges
APP_HOST: Final = "127.0.0.1"  # loopback only, like every service of the embedded stack


def installed() -> bool:
    return shutil.which(BINARY) is not None


def listen_port(env: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if env is None else env).get(ENV_PORT, "")
    if not raw:
        return DEFAULT_PORT
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PORT}={raw!r}: expected a port number") from exc


def render_config(template: str, *, api_target: str, read_key: str, listen: str) -> str:
    """The template with its `${api_target}`, `${read_key}` and `${listen}` filled; any other `$name` is an error."""
    try:
        return string.Template(template).substitute(api_target=api_target, read_key=read_key, listen=listen)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{TEMPLATE}: unknown or malformed placeholder {exc}; use $$ for a literal $") from exc


def _url(settings: Settings) -> str:
    return f"http://{APP_HOST}:{listen_port()}"


def _command(settings: Settings, python: str) -> list[str]:
    home = settings.home
    return [
        python,
        "-m",
        "clickstream.local.prometheus",
        "--config-file",
        str(home / CONFIG_FILE),
        "--data-dir",
        str(home / STATE_DIR / "data"),
        "--listen",
        f"{APP_HOST}:{listen_port()}",
        "--api-target",
        f"{APP_HOST}:{settings.api_port}",
    ]


def _health(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
    got = processes.http_get(f"{_url(settings)}/-/ready")
    return Health(got is not None and got[0] == 200, "GET /-/ready " + (str(got[0]) if got else "no answer"))


def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="prometheus",
        description="Prometheus (Debian's binary): scrapes the query API's /metrics every 5 s",
        command=_command,
        health=_health,
        depends_on=("api",),  # started after what it scrapes; `up == 0` would only mean "not yet"
        bind=lambda s: (APP_HOST, listen_port()),
        port_env=ENV_PORT,
        url=_url,
        files=(CONFIG_FILE,),
    )


def optional_services() -> tuple[ServiceSpec, ...]:
    """The Prometheus service when Debian's prometheus is on PATH, else ()."""
    return (service_spec(),) if installed() else ()


def main(argv: Sequence[str] | None = None) -> None:
    """Write the config, then exec prometheus with it (the process keeps this pid)."""
    parser = argparse.ArgumentParser(prog="python -m clickstream.local.prometheus", description=main.__doc__)
    parser.add_argument("--config-file", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--listen", required=True, help="host:port Prometheus listens on")
    parser.add_argument("--api-target", required=True, help="host:port of the query API")
    args = parser.parse_args(argv)
    binary = shutil.which(BINARY)
    if binary is None:
        raise SystemExit(f"{BINARY} is not installed: apt-get install prometheus (Debian), or leave it out")
    settings = Settings.from_env()
    text = render_config(
        TEMPLATE.read_text(), api_target=args.api_target, read_key=settings.read_key or "", listen=args.listen
    )
    args.config_file.parent.mkdir(parents=True, exist_ok=True)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.config_file.write_text(text)
    os.execv(
        binary,
        [
            binary,
            f"--config.file={args.config_file}",
            f"--storage.tsdb.path={args.data_dir}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address={args.listen}",
        ],
    )


if __name__ == "__main__":
    main()
