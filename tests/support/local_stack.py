"""Shared by the tests that start the embedded stack as a subprocess: a `Stack` handle on its CLI,
its cleanup, free ports and an environment that isolates it (its own state folder, every
listening service off the default ports, none of the developer's CLICKSTREAM_* or AWS_* settings)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from clickstream import constants as c
from support.ports import free_port

__all__ = ["CLI_TIMEOUT", "Stack", "cleanup", "free_port", "make_stack", "stack_env"]


def stack_env(home: Path, aws_port: int, collector_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKSTREAM_", "AWS_"))}
    return env | {
        c.ENV_HOME: str(home),
        c.ENV_ENDPOINT: f"http://127.0.0.1:{aws_port}",
        c.ENV_COLLECTOR_PORT: str(collector_port),
        # every other listening service on a free port too: a developer's stack may hold the defaults
        c.ENV_API_PORT: str(free_port()),
        c.ENV_AIRFLOW_PORT: str(free_port()),
        c.ENV_PROMETHEUS_PORT: str(free_port()),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "NO_PROXY": "127.0.0.1,localhost",
    }


# A safety net against a hung command, not a speed goal: `up` of every service (Airflow included)
# took over 60 s while another test worker loaded the same 2 cores.
CLI_TIMEOUT = 180


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    aws_port: int
    collector_port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clickstream", "local", *args],
            env=self.env,
            cwd=self.home.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.cli("up", *args)
        assert done.returncode == 0, f"up {args} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def state(self) -> dict[str, Any]:
        path = self.home / "state.json"
        return json.loads(path.read_text()) if path.exists() else {"processes": [], "external": []}

    def pids(self) -> dict[str, int]:
        return {p["name"]: p["pid"] for p in self.state()["processes"]}

    def status(self) -> tuple[int, dict[str, Any]]:
        done = self.cli("status", "--json")
        return done.returncode, json.loads(done.stdout)


def make_stack(home: Path) -> Stack:
    aws_port, collector_port = free_port(), free_port()
    return Stack(home, stack_env(home, aws_port, collector_port), aws_port, collector_port)


def cleanup(stack: Stack) -> None:
    """`down`, then make sure: nothing a test started may outlive the test run."""
    pids = stack.state()["processes"]
    stack.cli("down", "--purge")
    for p in pids:
        try:
            proc = psutil.Process(p["pid"])
            if abs(proc.create_time() - p["create_time"]) < 0.05:
                os.killpg(p["pid"], signal.SIGKILL)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass
