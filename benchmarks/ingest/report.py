"""The run's report: the goal check and the text printed at the end. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.ingest.stats import Ratio, ScenarioResult, markdown_table, ratio_lines

GOAL_BATCHED_EVENTS_PER_S = 50_000  # the issue: >= 50 000 events/s batched, on 2 cores
PEER_CLAIM_EVENTS_PER_S = 1_000  # what older collectors claim: "1000+ events/second"
CORES = 2


def goal_check(results: Mapping[str, ScenarioResult], profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The issue's goal and the peers' claim, against what this run measured."""
    out: dict[str, Any] = {
        "goal_events_per_s": GOAL_BATCHED_EVENTS_PER_S,
        "peer_claim_events_per_s": PEER_CLAIM_EVENTS_PER_S,
    }
    for key, label in (("a", "batched_null_sink"), ("b", "batched_kinesis")):
        r = results.get(key)
        if r is not None:
            out[label] = {"events_per_s": r.events_per_s, "met": r.events_per_s >= GOAL_BATCHED_EVENTS_PER_S}
    a = results.get("a")
    if a is not None and a.load.events:
        us = a.us_per_event(a.cpu.server)
        out["server_cpu_us_per_event_batched"] = us
        # If the collector had both cores to itself and nothing else ran: the CPU-bound ceiling.
        out["ceiling_events_per_s_if_server_had_both_cores"] = CORES * 1e6 / us if us == us and us > 0 else None
    if profile and profile.get("in_process_cpu_us_per_event"):
        us = profile["in_process_cpu_us_per_event"]
        out["in_process_cpu_us_per_event"] = us
        out["in_process_ceiling_events_per_s_2_cores"] = CORES * 1e6 / us
    for key in ("e1", "e2"):
        r = results.get(key)
        if r is not None:
            out[f"peer_{key}_events_per_s_on_stream"] = r.stream_events_per_s
    return out


def render(
    results: Sequence[ScenarioResult],
    ratios: Sequence[Ratio],
    goal: Mapping[str, Any],
    profile: Mapping[str, Any] | None,
) -> str:
    """What the command prints: table, ratios, goal, top functions."""
    lines = ["", markdown_table(results), "", "Ratios (events/s, same run):", *ratio_lines(ratios), ""]
    lines.append(f"Goal: >= {GOAL_BATCHED_EVENTS_PER_S:,} events/s batched on {CORES} cores.")
    for label in ("batched_null_sink", "batched_kinesis"):
        g = goal.get(label)
        if g:
            verdict = "MET" if g["met"] else "NOT met"
            lines.append(f"  {label.replace('_', ' ')}: {g['events_per_s']:,.0f} events/s -> {verdict}")
    if goal.get("server_cpu_us_per_event_batched") is not None:
        lines.append(f"  server CPU per event (a): {goal['server_cpu_us_per_event_batched']:.1f} µs")
    if goal.get("in_process_cpu_us_per_event"):
        lines.append(
            f"  in-process, no HTTP: {goal['in_process_cpu_us_per_event']:.1f} µs CPU/event "
            f"-> at most {goal['in_process_ceiling_events_per_s_2_cores']:,.0f} events/s on {CORES} cores"
        )
    if profile:
        lines += ["", f"Top functions by cumulative time (cProfile, {profile['profiled_events']:,} events in-process):"]
        for row in profile["top_cumulative"]:
            lines.append(f"  {row['cumulative_s']:8.3f}s cum {row['self_s']:8.3f}s self  {row['function']}")
        lines += ["", "Own time by file:"]
        for row in profile["self_by_file"]:
            lines.append(f"  {row['share'] * 100:5.1f} %  {row['where']}")
    return "\n".join(lines)
