"""`python -m benchmarks.sustained`: the embedded stack fed a steady rate for minutes, the speed layer's lag throughout.

Runs `clickstream demo --rate R --duration D --keep` (the stack the demo starts: AWS-compatible
server, Kafka broker, collector, raw archiver, Kinesis consumer, API), and meanwhile, every
`--every` seconds, reads the CPU time of each of the stack's processes from /proc. Afterwards:

- the speed layer's lag throughout: the Kinesis consumer logs each shard's iterator age every 5 s
  (`consumer.log`: the age of the last record it read when it read it) — its maximum per 30 s;
- freshness, ingest → counter visible (the demo's probe: p50, p99, max);
- whether the counters equal a recomputation from the raw archive at the end (the demo's check);
- the CPU of each process over the traffic window, in cores (1.0 = one core busy).

Then `clickstream local down`. No peer: one path measured end to end, on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVICES = {  # what a process's command line says it is
    "aws": "clickstream.emulated.aws_server",
    "kafka": "clickstream.emulated.msk_broker",
    "collector": "collector serve",
    "archiver": "archive run",
    "consumer": "clickstream consume",
    "api": "clickstream api",
    "demo (simulator, probe)": "clickstream demo",
}
AGE = re.compile(r"^(\S+ \S+) .*?lag: (.*)$")
SHARD_AGE = re.compile(r"(\S+) \d+ms behind, iterator age (\d+)ms")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sustained", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=1000.0, help="events per second [1000]")
    p.add_argument("--duration", type=float, default=300.0, help="seconds of traffic [300]")
    p.add_argument("--users", type=int, default=2000, help="simulated users [2000]")
    p.add_argument("--every", type=float, default=10.0, help="seconds between CPU samples [10]")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sustained.json"), help="results JSON")
    return p.parse_args(argv)


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of each stack process, by service."""
    out: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if "clickstream.local.supervisor" in cmd or "benchmarks.sustained" in cmd:
            continue  # a service's supervisor names the service in its command line too
        for name, marker in SERVICES.items():
            if marker in cmd:
                out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
                break
    return out


def iterator_ages(log: Path, since: datetime) -> list[tuple[str, int]]:
    """(time, the largest iterator age over shards in ms) of each progress line after `since`."""
    rows = []
    for line in log.read_text().splitlines():
        found = AGE.match(line)
        if not found:
            continue
        stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
        ages = [int(age) for _, age in SHARD_AGE.findall(found.group(2))]
        if stamp >= since and ages:
            rows.append((stamp.strftime("%H:%M:%S"), max(ages)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    home = Path.cwd() / ".clickstream"
    result_file = args.out.with_suffix(".demo.json")
    started = datetime.now()
    samples: list[tuple[float, dict[str, float]]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(args.every):
            samples.append((time.monotonic(), cpu_seconds()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    command = [
        sys.executable, "-m", "clickstream", "demo", "--rate", str(args.rate), "--duration", str(args.duration),
        "--users", str(args.users), "--keep", "--json", str(result_file),
    ]  # fmt: skip
    print(f"==> {' '.join(command[1:])}", flush=True)
    code = subprocess.call(command)
    stop.set()
    sampler.join()
    subprocess.call([sys.executable, "-m", "clickstream", "local", "down"])
    demo = json.loads(result_file.read_text()) if result_file.exists() else {}
    # the traffic window: the samples while the simulator ran (the demo's own CPU is its simulator)
    window = [s for s in samples if s[1].get("consumer") is not None]
    cpu: dict[str, float] = {}
    if len(window) >= 2:
        (t0, c0), (t1, c1) = window[0], window[min(len(window) - 1, int(args.duration / args.every))]
        cpu = {name: round((c1.get(name, 0) - c0.get(name, 0)) / (t1 - t0), 2) for name in c1}
    ages = iterator_ages(home / "logs" / "consumer.log", started)
    speed = demo.get("speed", demo)
    report = {
        "benchmark": "sustained",
        "command": "python -m benchmarks.sustained " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": started.isoformat(timespec="seconds"),
        "demo_exit": code,
        "rate": args.rate,
        "duration_s": args.duration,
        "iterator_age_ms_max": max((a for _, a in ages), default=None),
        "iterator_age_ms": ages,
        "freshness": _find(speed, "freshness"),
        "counters_match_raw_archive": _find(speed, "counters_match_raw_archive"),
        "cpu_cores_by_process": cpu,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "iterator_age_ms"}, indent=2))
    print(
        "iterator age, the largest per 30 s (ms):", [max(a for _, a in ages[i : i + 6]) for i in range(0, len(ages), 6)]
    )
    return code


def _find(doc: Any, key: str) -> Any:
    """`key` anywhere in the demo's result document (its layout is the demo's)."""
    if isinstance(doc, dict):
        if key in doc:
            return doc[key]
        for value in doc.values():
            found = _find(value, key)
            if found is not None:
                return found
    return None


if __name__ == "__main__":
    sys.exit(main())
