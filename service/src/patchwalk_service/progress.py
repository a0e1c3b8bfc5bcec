"""The terminal progress bar of ``patchwalk run``: tasks done, particle-steps/s and the ETA."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class TqdmProgress:
    """A tqdm bar over tasks with the particle-step rate as a postfix; tqdm gives the ETA."""

    def __init__(self, file: TextIO | None = None, desc: str = "patchwalk") -> None:
        self._file = file if file is not None else sys.stderr
        self._desc = desc
        self._bar: Any = None
        self._steps = 0
        self._t0 = 0.0

    def start(self, total: int, skipped: int) -> None:
        from tqdm import tqdm

        self._t0 = time.perf_counter()
        self._bar = tqdm(total=total, initial=skipped, desc=self._desc, unit="task",
                         file=self._file, dynamic_ncols=True, smoothing=0.1)

    def update(self, tasks: int, steps: int) -> None:
        if self._bar is None:
            return
        self._steps += steps
        dt = max(time.perf_counter() - self._t0, 1e-9)
        self._bar.set_postfix_str(f"{self._steps / dt:.3g} particle-steps/s", refresh=False)
        self._bar.update(tasks)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(enabled: bool | None = None) -> TqdmProgress | None:
    """A tqdm bar if ``enabled`` (default: stdout is a terminal), else None (nothing shown), so
    piped output (``--json``, CI logs) stays clean."""
    if enabled is None:
        enabled = sys.stdout.isatty()
    return TqdmProgress() if enabled else None
