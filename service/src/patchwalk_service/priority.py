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
"""

from __future__ import annotations

import logging
import os
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

_log = logging.getLogger(__name__)

#: Nice value of the embedded compute workers (0 is the default; 19 the lowest priority).
WORKER_NICE = 10


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
