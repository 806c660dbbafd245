"""What is measured, and how one scenario runs: servers up, load process, CPU sampled at the window edges."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from benchmarks.ingest import procs
from benchmarks.ingest.stats import DIRECT, CpuSplit, LoadResult, ScenarioResult
from clickstream import constants as c
from clickstream.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
LOADGEN_TIMEOUT_S = 30.0  # after its last line; the generator itself stops within DRAIN_S of the window


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    target: str  # "clickstream", "naive peer", "direct"
    server: str | None  # "ours-null", "ours-kinesis", "peer"; None = no HTTP
    route: str
    kind: str  # fixtures to send: "batches", "singles", "records"
    sink: str  # "null" or "kinesis"

    @property
    def events_per_request(self) -> int:
        return 1 if self.kind == "singles" else 500


# Run order groups scenarios by server (each server starts once); the table sorts by key.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("a", "ours, batched 500/req, null sink", "clickstream", "ours-null", "/v1/events", "batches", "null"),
    Scenario("c", "ours, single events, null sink", "clickstream", "ours-null", "/v1/track", "singles", "null"),
    Scenario("b", "ours, batched 500/req, Kinesis", "clickstream", "ours-kinesis", "/v1/events", "batches", "kinesis"),
    Scenario("d", "ours, single events, Kinesis", "clickstream", "ours-kinesis", "/v1/track", "singles", "kinesis"),
    Scenario("e1", "peer, batched 500/req, Kinesis", "naive peer", "peer", "/v1/events", "batches", "kinesis"),
    Scenario("e2", "peer, single events, Kinesis", "naive peer", "peer", "/v1/track", "singles", "kinesis"),
    Scenario("f", "generator → KinesisWriter, no HTTP", DIRECT, None, "PutRecords", "records", "kinesis"),
)


@dataclass(frozen=True)
class LoadOptions:
    seconds: float
    warmup: float
    concurrency: int
    workers: int


@dataclass
class Run:
    """One benchmark run: a private moto server, the fixtures file, every process it started."""

    tmp: Path
    moto: procs.Proc
    endpoint: str
    settings: Settings
    fixtures_path: Path
    started: list[procs.Proc] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return procs.child_env(
            {
                c.ENV_ENDPOINT: self.endpoint,
                c.ENV_HOME: str(self.tmp / "home"),
                c.ENV_REGION: self.settings.region,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "PYTHONPATH": str(REPO_ROOT),
            }
        )

    def reset_stream(self) -> None:
        """Wipe moto and provision again: every Kinesis scenario starts on an empty stream."""
        from clickstream.local.provision import provision

        procs.post(f"{self.endpoint}/moto-api/reset")
        provision(self.settings)


@contextlib.contextmanager
def open_run() -> Iterator[Run]:
    """Start moto on a free port and provision it; stop every process of the run on the way out."""
    from clickstream.adapters import _clients
    from clickstream.local.provision import provision

    with tempfile.TemporaryDirectory(prefix="clickstream-bench-") as tmp_name:
        tmp = Path(tmp_name)
        port = procs.free_port()
        endpoint = f"http://127.0.0.1:{port}"
        moto = procs.start(
            "moto",
            [procs.python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=procs.child_env({}),
            log=tmp / "moto.log",
        )
        run = Run(tmp, moto, endpoint, Settings(), tmp / "fixtures.pickle", [moto])
        try:
            procs.wait_http(f"{endpoint}/moto-api/", moto)
            run.settings = Settings.from_env({c.ENV_ENDPOINT: endpoint, c.ENV_HOME: str(tmp / "home")})
            _clients.reset_cache()
            provision(run.settings)
            yield run
        finally:
            for proc in reversed(run.started):
                procs.stop(proc)
            _clients.reset_cache()


def start_server(run: Run, server: str, workers: int) -> tuple[procs.Proc, int]:
    """The named collector ("ours-null", "ours-kinesis", "peer") on a free port, answering /healthz."""
    port = procs.free_port()
    if server == "peer":
        cmd = ["-m", "benchmarks.ingest.naive_collector"]
    else:
        cmd = ["-m", "clickstream", "collector", "serve", *(["--null-sink"] if server == "ours-null" else [])]
    cmd = [procs.python(), *cmd, "--port", str(port), "--workers", str(workers)]
    proc = procs.start(server, cmd, env=run.env(), log=run.tmp / f"{server}.log")
    run.started.append(proc)
    procs.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc, port


def stop_process(run: Run, proc: procs.Proc, *, timeout: float = 10.0) -> None:
    procs.stop(proc, timeout=timeout)
    run.started.remove(proc)


def run_all(
    run: Run, chosen: Sequence[Scenario], opts: LoadOptions, log: Callable[[str], None]
) -> list[ScenarioResult]:
    """Every scenario in order. A server is reused by the next scenario of the same kind only if the
    generator drained it (nothing left running that would spill into the next measurement)."""
    results: list[ScenarioResult] = []
    current: tuple[str, procs.Proc, int] | None = None
    try:
        for scenario in chosen:
            if current is not None and current[0] != scenario.server:
                stop_process(run, current[1])
                current = None
            if scenario.server is not None and current is None:
                log(f"server {scenario.server}: starting")
                current = (scenario.server, *start_server(run, scenario.server, opts.workers))
            log(f"scenario {scenario.key}: {scenario.title} ...")
            proc, port = (current[1], current[2]) if current else (None, 0)
            result = run_scenario(run, scenario, opts, server=proc, port=port)
            if current is not None and not result.load.drained:
                # Its requests still run (uvicorn would wait for them on SIGTERM): no spill into the next window.
                stop_process(run, current[1], timeout=1.0)
                current = None
            if scenario.sink == "kinesis":
                result = replace(result, stream_events=count_stream(run.settings, *result.window_wall))
            results.append(result)
            log(summary_line(result))
    finally:
        if current is not None:
            stop_process(run, current[1])
    return results


def summary_line(r: ScenarioResult) -> str:
    p50 = r.load.latency_ms.get("p50")
    stream = "" if r.stream_events_per_s is None else f" ({r.stream_events_per_s:,.0f}/s on the stream)"
    return (
        f"  {r.events_per_s:,.0f} events/s acked{stream}, {r.requests_per_s:,.0f} req/s, "
        f"p50 {'n/a' if p50 is None or p50 != p50 else f'{p50:.1f} ms'}, non-2xx {r.load.errors}, "
        f"no answer {r.load.failures}; CPU s: server {r.cpu.server:.1f} load-gen {r.cpu.loadgen:.1f} "
        f"moto {r.cpu.moto:.1f} other {r.cpu.other:.1f}"
    )


def count_stream(settings: Settings, start: float, end: float) -> int:
    """Records on the stream whose arrival time is within [start, end] (epoch seconds), all shards."""
    from clickstream.adapters import _clients

    client = _clients.client("kinesis", settings)
    stream = settings.names.stream
    count = 0
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        iterator = it["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            if not page["Records"]:
                break
            count += sum(1 for r in page["Records"] if start <= r["ApproximateArrivalTimestamp"].timestamp() <= end)
            iterator = page.get("NextShardIterator")
    return count


def run_scenario(
    run: Run, scenario: Scenario, opts: LoadOptions, *, server: procs.Proc | None, port: int
) -> ScenarioResult:
    """Run the load generator against `server` (or straight at Kinesis) and tally its window."""
    if scenario.sink == "kinesis":
        run.reset_stream()
    common = ["--fixtures", str(run.fixtures_path), "--concurrency", str(opts.concurrency)]
    common += ["--warmup", str(opts.warmup), "--seconds", str(opts.seconds)]
    if scenario.server is None:
        args = ["kinesis", "--endpoint", run.endpoint, "--stream", run.settings.names.stream]
    else:
        args = ["http", "--port", str(port), "--path", scenario.route, "--kind", scenario.kind]
    cmd = [procs.python(), "-m", "benchmarks.ingest.loadgen", *args, *common]
    log = run.tmp / f"loadgen-{scenario.key}.log"
    gen = procs.start(f"loadgen-{scenario.key}", cmd, env=run.env(), log=log, pipe=True)
    run.started.append(gen)
    pids = {"server": server.pid if server else None, "loadgen": gen.pid, "moto": run.moto.pid}
    try:
        load, cpu, wall = _follow(gen, pids)
    finally:
        stop_process(run, gen)
    return ScenarioResult(
        key=scenario.key,
        title=scenario.title,
        target=scenario.target,
        route=scenario.route,
        sink=scenario.sink,
        events_per_request=scenario.events_per_request,
        concurrency=opts.concurrency,
        load=load,
        cpu=cpu,
        window_wall=wall,
    )


def _sample(pids: Mapping[str, int | None]) -> dict[str, float]:
    out = {role: procs.tree_cpu(pid) for role, pid in pids.items()}
    out["machine"] = procs.machine_busy_cpu()
    out["wall"] = time.time()
    return out


def _follow(gen: procs.Proc, pids: Mapping[str, int | None]) -> tuple[LoadResult, CpuSplit, tuple[float, float]]:
    """Read the generator's protocol lines; sample CPU (and wall time) when its window opens and closes."""
    assert gen.popen.stdout is not None
    first: dict[str, float] | None = None
    last: dict[str, float] | None = None
    result: LoadResult | None = None
    for raw in gen.popen.stdout:
        line = raw.decode(errors="replace").strip()
        if line == "BENCH start":
            first = _sample(pids)
        elif line == "BENCH end":
            last = _sample(pids)
        elif line.startswith("BENCH result "):
            result = LoadResult.from_dict(orjson.loads(line.removeprefix("BENCH result ")))
    gen.popen.wait(timeout=LOADGEN_TIMEOUT_S)
    if result is None or first is None or last is None:
        raise RuntimeError(f"{gen.name} failed (exit {gen.popen.returncode}):\n{gen.tail()}")
    d = {k: last[k] - first[k] for k in first}
    return result, CpuSplit(d["server"], d["loadgen"], d["moto"], d["machine"]), (first["wall"], last["wall"])
