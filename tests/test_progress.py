"""Progress of long commands: a live bar on a terminal, nothing elsewhere; the backtest reports
each origin it has forecast."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from energy_assets.progress import clock, steps, time_left


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_two_steps(stream: io.StringIO) -> str:
    with steps("backtest", 2, "origins", stream=stream) as progress:
        progress.start("first day")
        progress.update(1, 2)
        progress.start("second day")
        progress.update(2, 2)
    return stream.getvalue()


def test_nothing_is_shown_where_the_stream_is_not_a_terminal() -> None:
    assert run_two_steps(io.StringIO()) == ""


def test_a_terminal_shows_done_of_total_elapsed_and_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    shown = run_two_steps(Terminal())
    assert "backtest" in shown and "2/2 origins" in shown
    assert "elapsed" in shown and "0:00:00 left" in shown
    assert "\x1b[" in shown  # drawn in place, in colour


def test_no_color_keeps_the_bar_without_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    shown = run_two_steps(Terminal())
    assert "2/2 origins" in shown
    assert "\x1b[3" not in shown and "\x1b[9" not in shown  # no foreground colours


def test_a_dumb_terminal_gets_one_plain_line_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    lines = run_two_steps(Terminal()).splitlines()
    assert len(lines) == 2 and "\x1b" not in "".join(lines)
    assert lines[0].startswith("backtest: 1/2 origins (first day), 0:00:00 elapsed, ")
    assert lines[1].endswith("elapsed, 0:00:00 left")


def test_time_left_at_the_average_pace() -> None:
    assert time_left(30.0, 1, 4) == 90.0
    assert time_left(40.0, 1, 4, done_at=30.0) == 80.0  # counts down between steps
    assert time_left(200.0, 1, 4, done_at=30.0) == 0.0
    assert time_left(30.0, 0, 4) is None and time_left(None, 1, 4) is None
    assert clock(3725.4) == "1:02:05" and clock(None) == "-:--:--"


@pytest.mark.parametrize(
    ("refit", "start", "end", "origins"),
    [("daily", "2023-01-29", "2023-01-30", 2), ("weekly", "2023-01-28", "2023-01-30", 3)],
)
def test_the_backtest_reports_each_origin(refit: str, start: str, end: str, origins: int) -> None:
    from energy_assets.domain.forecasting.backtest import backtest
    from energy_assets.domain.sources.simulator import SimulatorSource

    history = SimulatorSource(seed=3).fetch(
        pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-02-01", tz="UTC")
    )
    calls: list[tuple[int, int]] = []
    backtest(
        history,
        pd.Timestamp(start, tz="UTC"),
        pd.Timestamp(end, tz="UTC"),
        {"num_boost_round": 10},
        refit=refit,
        on_origin=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(done, origins) for done in range(1, origins + 1)]
