"""CPU priority: compute workers yield the processor to the control plane.

On a machine shared by the service and its embedded compute workers (``--cluster local``: one
worker process per core), the workers would otherwise take the cores at the same priority as
the process that answers HTTP, and every status poll would wait for a time slice behind
numba kernels. :class:`LowPriority` is a Dask worker plugin that lowers the priority (raises
the ``nice`` value) of every thread of a worker process when the worker starts, so the
scheduler of the operating system runs the service first whenever it has work, and the
workers get every cycle it leaves idle: compute throughput is unchanged on an idle control
plane.

Linux keeps a nice value per *thread* (``setpriority(PRIO_PROCESS, tid, ...)``), and a new
thread inherits its creator's: so every existing thread of the worker is lowered, and the
threads it starts later (the task executor's) inherit the lower priority. Elsewhere the value
is per process. The plugin is idempotent (it sets *at least* ``nice``, never lowers a value
further on a second call), so re-registration or a restarted worker is harmless.

Inside the service process the event loop shares the interpreter lock with threads that do
heavy Python work now and then (partial results read from a store, plots, cost pilots). A
thread holding the lock keeps it for the interpreter's switch interval (5 ms by default) before
the loop may take it back, and the loop needs it several times per request:
:func:`responsive_interpreter` shortens the interval to :data:`SWITCH_INTERVAL` while the
service runs (measured with three clients asking for partial κ̄ of a running sweep while 50
polled, on the shared 2-core machine: status p95 230–302 → 20–87 ms, p99 314–351 → 87–174 ms).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

_log = logging.getLogger(__name__)

#: Nice value of the embedded compute workers (0 is the default; 19 the lowest priority).
WORKER_NICE = 10

#: Seconds a thread may hold the interpreter lock while another waits, in the service process.
SWITCH_INTERVAL = 0.0005


@contextmanager
def responsive_interpreter(interval: float = SWITCH_INTERVAL) -> Iterator[None]:
    """Shorten the interpreter's switch interval to ``interval`` seconds (never lengthen it)
    for the duration of the block; the previous value is restored after."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _thread_ids() -> list[int]:
    """Ids of this process's threads (Linux), or ``[0]`` (this process) elsewhere."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def lower_priority(nice: int = WORKER_NICE) -> int:
    """Give every thread of this process a nice value of at least ``nice``.

    Parameters
    ----------
    nice : int
        The nice value to reach, 0..19; a thread already nicer is left as it is.

    Returns
    -------
    int
        The number of threads whose priority was lowered.
    """
    if not 0 <= nice <= 19:
        raise ValueError(f"nice must be in 0..19 (got {nice}); 19 is the lowest priority")
    lowered = 0
    for tid in _thread_ids():
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                lowered += 1
        except (ProcessLookupError, PermissionError):  # a thread that ended; a locked-down host
            continue
    return lowered


def thread_nice_values() -> list[int]:
    """The nice value of every thread of this process (for checks and ``client.run``)."""
    out = []
    for tid in _thread_ids():
        try:
            out.append(os.getpriority(os.PRIO_PROCESS, tid))
        except ProcessLookupError:
            continue
    return out


class LowPriority(WorkerPlugin):
    """Worker plugin: the worker process runs at nice ``nice`` (:func:`lower_priority`).

    Register it with ``client.register_plugin(LowPriority())``: the scheduler keeps it and
    applies it to workers that join later (a restarted worker too).
    """

    name = "patchwalk-low-priority"

    def __init__(self, nice: int = WORKER_NICE) -> None:
        if not 0 <= nice <= 19:
            raise ValueError(f"nice must be in 0..19 (got {nice}); 19 is the lowest priority")
        self.nice = nice

    def setup(self, worker: Any) -> None:
        """Lower the priority of the worker process's threads."""
        n = lower_priority(self.nice)
        _log.debug("worker %s: %d threads now at nice >= %d", worker.address, n, self.nice)
