"""A terminal progress bar for runs: calls done / total, audio minutes, time left."""
from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RunProgress:
    """Shows progress only when ``enabled`` (a terminal); otherwise does nothing."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.minutes = total, 0.0
        self._progress = Progress(
            TextColumn("[bold]calls"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[minutes]:.1f} audio min"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(),
        ) if enabled and total else None
        self._task = None

    def __enter__(self) -> "RunProgress":
        if self._progress:
            self._progress.start()
            self._task = self._progress.add_task("calls", total=self.total, minutes=0.0)
        return self

    def advance(self, audio_seconds: float) -> None:
        self.minutes += audio_seconds / 60.0
        if self._progress is not None:
            self._progress.update(self._task, advance=1, minutes=self.minutes)

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()
