"""Progress of a long command, on the terminal only.

`steps(name, total, unit)` shows steps done of the total, the time elapsed and the time left
(at the average pace so far) on standard error, so standard output keeps the command's results
for pipes. Where standard error is not a terminal (CI, `make demo > log`, cron) nothing is
shown at all; on a terminal that cannot move its cursor (`TERM=dumb`) one plain line is printed
per step instead of a live bar; `NO_COLOR` keeps the bar but drops its colours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Column
from rich.text import Text


def clock(seconds: float | None) -> str:
    """`H:MM:SS`, or `-:--:--` when unknown."""
    if seconds is None:
        return "-:--:--"
    return str(dt.timedelta(seconds=max(0, round(seconds))))


def time_left(
    elapsed: float | None, done: float, total: float | None, done_at: float | None = None
) -> float | None:
    """Seconds left if the remaining steps take as long on average as those done, the last of
    them at `done_at` seconds (by default now): between steps it counts down, not up."""
    if elapsed is None or total is None or done <= 0:
        return None
    at = elapsed if done_at is None else done_at
    return max(0.0, at / done * max(0.0, total - done) - (elapsed - at))


class _Elapsed(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{clock(task.elapsed or 0.0)} elapsed", style="progress.elapsed")


class _Left(ProgressColumn):
    def render(self, task: Task) -> Text:
        left = time_left(task.elapsed, task.completed, task.total, task.fields["done_at"])
        return Text(f"{clock(left)} left", style="progress.remaining")


class Steps:
    """The steps of one command; every method does nothing where progress is not shown."""

    def __init__(
        self,
        name: str,
        total: int,
        unit: str,
        *,
        bar: Progress | None = None,
        lines: TextIO | None = None,
    ) -> None:
        self.name, self.total, self.unit = name, total, unit
        self.done = 0
        self.description = ""
        self._bar = bar
        self._task: TaskID | None = None
        self._lines = lines
        self._started = time.monotonic()
        if bar is not None:
            self._task = bar.add_task(name, total=total, unit=unit, now="", done_at=None)

    def start(self, description: str) -> None:
        """What runs now."""
        self.description = description
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, now=description)

    def advance(self) -> None:
        """One more step done."""
        self.update(self.done + 1, self.total)

    def update(self, done: int, total: int) -> None:
        """`done` steps of `total` done: fits a `(done, total)` callback."""
        self.done, self.total = done, total
        if self._bar is not None and self._task is not None:
            done_at = time.monotonic() - self._started
            self._bar.update(self._task, completed=done, total=total, done_at=done_at)
        if self._lines is not None:
            elapsed = time.monotonic() - self._started
            left = clock(time_left(elapsed, done, total))
            what = f" ({self.description})" if self.description else ""
            print(
                f"{self.name}: {done}/{total} {self.unit}{what}, "
                f"{clock(elapsed)} elapsed, {left} left",
                file=self._lines,
                flush=True,
            )


def _same_file(a: TextIO, b: TextIO) -> bool:
    try:
        return os.path.samestat(os.fstat(a.fileno()), os.fstat(b.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


@contextlib.contextmanager
def steps(
    name: str, total: int, unit: str = "steps", *, stream: TextIO | None = None
) -> Iterator[Steps]:
    """Progress of `total` steps on `stream` (standard error) while the block runs; shown only
    when that stream is a terminal."""
    out = stream if stream is not None else sys.stderr
    if not _is_terminal(out):
        yield Steps(name, total, unit)
        return
    if os.environ.get("TERM") == "dumb":
        yield Steps(name, total, unit, lines=out)
        return
    console = Console(file=out, force_terminal=True, no_color="NO_COLOR" in os.environ)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TextColumn("{task.completed}/{task.total} {task.fields[unit]}"),
        _Elapsed(),
        _Left(),
        TextColumn("{task.fields[now]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        console=console,
        transient=True,  # once done, the output reads as it does without a terminal
        refresh_per_second=4,
        # Printing meanwhile goes above the bar: stdout only when it shares the terminal
        # (otherwise it is a pipe or a file and stays as it is).
        redirect_stdout=_same_file(sys.stdout, out),
        redirect_stderr=out is sys.stderr,
    )
    with bar:
        yield Steps(name, total, unit, bar=bar)
