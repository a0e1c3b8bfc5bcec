"""Progress of a sweep on a terminal: tasks done/total, particle-steps/s, ETA (tqdm).

The scheduler reports a watched sweep to any object with ``start``, ``update`` and ``close``
(:class:`ProgressSink`); :func:`make_progress` gives a tqdm bar when stdout is a terminal and
a silent sink otherwise, so piped output (``--json``, CI logs) stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO


class ProgressSink(Protocol):
    """What the scheduler calls while a watched sweep runs."""

    def start(self, total: int, skipped: int) -> None:
        """``total`` tasks in the sweep, ``skipped`` of them already done."""

    def update(self, tasks: int, steps: int) -> None:
        """``tasks`` more tasks finished, having done ``steps`` particle-steps."""

    def close(self) -> None:
        """The sweep ended (finished, cancelled or failed)."""


class NullProgress:
    """A sink that shows nothing (not a terminal)."""

    def start(self, total: int, skipped: int) -> None:  # noqa: D102
        pass

    def update(self, tasks: int, steps: int) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


class TqdmProgress:
    """A tqdm bar over tasks with the particle-step rate as a postfix; tqdm gives the ETA."""

    def __init__(self, file: TextIO | None = None, desc: str = "patchwalk") -> None:
        self._file = file if file is not None else sys.stderr
        self._desc = desc
        self._bar: Any = None
        self._steps = 0
        self._t0 = 0.0

    def start(self, total: int, skipped: int) -> None:  # noqa: D102
        from tqdm import tqdm

        self._t0 = time.perf_counter()
        self._bar = tqdm(total=total, initial=skipped, desc=self._desc, unit="task",
                         file=self._file, dynamic_ncols=True, smoothing=0.1)

    def update(self, tasks: int, steps: int) -> None:  # noqa: D102
        if self._bar is None:
            return
        self._steps += steps
        dt = max(time.perf_counter() - self._t0, 1e-9)
        self._bar.set_postfix_str(f"{self._steps / dt:.3g} particle-steps/s", refresh=False)
        self._bar.update(tasks)

    def close(self) -> None:  # noqa: D102
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(enabled: bool | None = None) -> ProgressSink:
    """A tqdm bar if ``enabled`` (default: stdout is a terminal), else a silent sink."""
    if enabled is None:
        enabled = sys.stdout.isatty()
    return TqdmProgress() if enabled else NullProgress()
