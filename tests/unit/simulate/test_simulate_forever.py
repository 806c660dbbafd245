"""`clickstream simulate --forever`: option checks and the progress log (no sending here)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from clickstream.commands.simulate import PROGRESS_EVERY_S, ProgressLog, simulate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--forever"], "--forever needs --rate"),
        (["--forever", "--rate", "5", "--events", "10"], "drop --events"),
        (["--forever", "--rate", "5", "--duration", "3"], "drop --duration"),
    ],
)
def test_forever_refuses_options_that_would_end_it(args: list[str], message: str) -> None:
    done = CliRunner().invoke(simulate, [*args, "--sink", "file"])
    assert done.exit_code == 2
    assert message in done.output


def test_progress_log_prints_a_line_every_interval(capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    log = ProgressLog(20, clock=lambda: now[0])
    log.add(10, 9, 1)  # too soon for a line
    assert capsys.readouterr().err == ""
    now[0] = PROGRESS_EVERY_S
    log.add(190, 190, 0)
    err = capsys.readouterr().err
    assert "sent 200 events in 10 s (20.0/s; target 20/s): accepted 199, rejected 1" in err
