"""Progress of long commands on a terminal: the pipeline's progress callback as click progress bars.

One bar per pipeline step (download, activity…), counting records as the spoke yields them (the
total is not known in advance, so the bar shows the count). Nothing at all is written when
stderr is not a terminal or the command prints JSON, so scripts and pipes see no change.

Commands whose work is a few known stages (``report``: reconcile, then each output) use
:class:`StageProgress` instead: one bar over the stages, naming the one under way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import click

__all__ = ["StageProgress", "StepProgress"]


def _unknown_length() -> Iterator[int]:
    """An iterable without a length hint: click then shows a count instead of a percentage."""
    yield from ()


class StepProgress:
    """A :data:`~saas_license._pipeline.ProgressCallback` drawing one click progress bar per step."""

    def __init__(self, *, as_json: bool = False, file: TextIO | None = None) -> None:
        self._file = file if file is not None else sys.stderr
        self.enabled = not as_json and self._file.isatty()
        self._bar: Any = None
        self._step: str | None = None
        self._pos = 0

    def __call__(self, step: str, count: int) -> None:
        """Record that ``step`` has handled ``count`` records so far."""
        if not self.enabled:
            return
        if step != self._step:
            self.close()
            self._bar = click.progressbar(
                _unknown_length(), label=f"{step:<9}", show_pos=True, file=self._file
            )
            self._bar.__enter__()
            self._step, self._pos = step, 0
        self._bar.update(count - self._pos)
        self._pos = count

    def close(self) -> None:
        """Finish the current bar (if any) and move to a new line."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
            self._step = None

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StageProgress:
    """One click progress bar over a command's known stages, naming the stage under way.

    ``with StageProgress(["reconcile", "html"], label="report") as progress:`` then
    ``with progress.stage("reconcile"): …`` around each stage, in any order, each once.
    """

    def __init__(
        self,
        stages: Sequence[str],
        *,
        label: str,
        as_json: bool = False,
        file: TextIO | None = None,
    ) -> None:
        self._file = file if file is not None else sys.stderr
        self.enabled = not as_json and self._file.isatty()
        self._stages = tuple(stages)
        self._label = label
        self._bar: Any = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Show ``name`` while the block runs, then count it as done."""
        if name not in self._stages:
            raise ValueError(f"unknown stage {name!r}; expected one of {self._stages}")
        if self._bar is not None:
            self._bar.current_item = name
            self._bar.render_progress()  # name the stage while it runs, not only once done
        yield
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Finish the bar (if any) and move to a new line."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> StageProgress:
        if self.enabled and self._bar is None:
            width = max(len(s) for s in self._stages) if self._stages else 0
            self._bar = click.progressbar(
                length=len(self._stages),
                label=self._label,
                show_pos=True,
                show_percent=False,
                show_eta=False,
                item_show_func=lambda stage: f"{stage:<{width}}" if stage else None,
                file=self._file,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
