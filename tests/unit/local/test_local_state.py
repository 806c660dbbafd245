"""state.json: round trip, atomic save, and refusing what it cannot trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickstream.errors import ConfigError
from clickstream.local.state import (
    ExternalService,
    ProcessRecord,
    StackState,
    dumps,
    load_state,
    loads,
    save_state,
    state_path,
)


def _record(name: str = "aws", pid: int = 4242) -> ProcessRecord:
    return ProcessRecord(
        name=name,
        pid=pid,
        command=("/venv/bin/python", "-m", "moto.server", "-p", "4566"),
        port=4566 if name == "aws" else None,
        url="http://127.0.0.1:4566" if name == "aws" else None,
        log=f"/home/me/.clickstream/logs/{name}.log",
        started_at=1_795_000_000.25,
        create_time=1_795_000_000.11,
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
    )


def test_round_trip_keeps_every_field() -> None:
    # GIVEN a state with two processes and an adopted external server
    state = StackState(
        processes={"aws": _record("aws", 10), "kafka": _record("kafka", 11)},
        external={"aws2": ExternalService(name="aws2", url="http://127.0.0.1:4566", kind="localstack")},
    )
    # WHEN it is serialised and parsed back
    again = loads(dumps(state))
    # THEN nothing is lost or changed in type
    assert again == state
    assert again.processes["aws"].command == _record().command
    assert isinstance(again.processes["aws"].command, tuple)


def test_save_then_load_and_no_temp_files_left(tmp_path: Path) -> None:
    state = StackState(processes={"aws": _record()})
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_saving_an_empty_state_removes_the_file(tmp_path: Path) -> None:
    save_state(tmp_path, StackState(processes={"aws": _record()}))
    save_state(tmp_path, StackState())
    assert not state_path(tmp_path).exists()
    assert load_state(tmp_path).empty


def test_missing_folder_means_nothing_recorded(tmp_path: Path) -> None:
    assert load_state(tmp_path / "never-created").empty


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"version": 99, "processes": []}',
        '{"version": 1, "processes": [{"name": "aws"}]}',
        '{"version": 1, "processes": [{"name": "aws", "pid": "x", "command": [], "log": "l", '
        '"started_at": 1, "create_time": 1}]}',
    ],
)
def test_untrustworthy_state_is_refused_with_the_path(tmp_path: Path, text: str) -> None:
    state_path(tmp_path).write_text(text)
    with pytest.raises(ConfigError, match=r"state\.json"):
        load_state(tmp_path)


def test_forget_removes_process_and_external() -> None:
    state = StackState(
        processes={"kafka": _record("kafka")},
        external={"aws": ExternalService(name="aws", url="http://127.0.0.1:4566", kind="moto")},
    )
    state.forget("kafka")
    state.forget("aws")
    assert state.empty
