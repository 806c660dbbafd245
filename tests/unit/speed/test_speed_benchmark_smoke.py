"""`python -m benchmarks.speed_layer`'s in-process parts at toy size, so the benchmark cannot rot. No timing."""

from __future__ import annotations

from benchmarks.speed_layer import fixtures, throughput
from benchmarks.speed_layer.__main__ import render
from benchmarks.speed_layer.dynamodb import aggregate, modelled


def test_fixtures_throughput_stages_profile_and_request_model() -> None:
    events = fixtures.normalised_events(300)
    lambda_events = fixtures.kinesis_events(events, batch_size=50)
    assert fixtures.record_count(lambda_events) == len(events) > 250
    assert all(len(e["Records"]) <= 50 for e in lambda_events)

    run = throughput.handler_run(lambda_events, repeats=1)
    assert run["records"] == len(events) and run["bad_rows"] == 0 and run["counter_items"] > 0
    with throughput.old_path():  # the validating decode step: the same events kept, the same items
        old = throughput.handler_run(lambda_events, repeats=1)
    assert (old["bad_rows"], old["counter_items"], old["sketch_items"]) == (
        0,
        run["counter_items"],
        run["sketch_items"],
    )
    run["old_path"], run["speedup_over_old_path"] = old, 1.0
    stages = throughput.stage_costs(lambda_events)
    assert set(stages) >= {"decode_stored (msgspec + checks: the new decode step)", "aggregate (counters of a batch)"}
    assert throughput.profile_top(lambda_events, top=5)

    model = modelled(events, batch_size=50)
    per_event_requests = sum(len(aggregate([e])) for e in events)
    writes = model["requests_by_operation"]["update_item"] + model["requests_by_operation"]["put_item"]
    assert writes < per_event_requests / 5  # window items pay even at 50
    report = {
        "date": "d",
        "command": "c",
        "throughput": run,
        "goal_events_per_core": 1_000_000,
        "goal_met": False,
        "stages_us_per_record": stages,
        "profile_top": None,
        "dynamodb": None,
    }
    assert "events/s per core" in render(report)
