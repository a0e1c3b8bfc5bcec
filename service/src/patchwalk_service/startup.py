"""Start-up of ``patchwalk run``: the cluster started beside the store, and phase timings.

:class:`Starting` opens the cluster (:func:`~patchwalk_service.cluster.open_cluster`, which warms
only the sweep's kernels on each worker, from the numba cache) in a thread while the calling
thread makes the store: the slow parts of both wait on other processes (worker start-up, kernel
loading, the disk). :func:`local_workers` starts no more worker processes than the sweep has
tasks. :class:`Phases` is ``patchwalk run --timings``: the wall seconds of each phase, from the
process's start (docs/engine.md "Start-up", ``benchmarks/bench_command.py``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .cluster import ClusterSession
    from .settings import ServiceSettings


class Phases:
    """Wall seconds of the phases of one command, printed to stderr by ``--timings``; the
    first row is the time from the process's start (/proc) to the command's start."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = time.perf_counter()
        self.rows: list[tuple[str, float]] = [
            ("interpreter start-up, imports, parser", _process_age())]

    def mark(self, name: str) -> None:
        """End the phase ``name`` now."""
        now = time.perf_counter()
        self.rows.append((name, now - self._last))
        self._last = now

    def report(self) -> None:
        """Print the phases and their total (only when enabled)."""
        if self.enabled:
            self.mark("the rest")
            lines = [f"  {sec:7.2f} s  {name}" for name, sec in self.rows]
            total = sum(sec for _, sec in self.rows)
            lines.append(f"  {total:7.2f} s  total")
            print("patchwalk run: timings\n" + "\n".join(lines), file=sys.stderr)


def _process_age() -> float:
    """Seconds since this process started (0 where /proc does not say)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def local_workers(settings: ServiceSettings, tasks: int) -> ServiceSettings:
    """The settings of an embedded cluster of no more worker processes than ``tasks``."""
    if (settings.cluster or "local") != "local" or settings.scheduler:
        return settings
    return settings.model_copy(update={"workers": max(1, min(int(settings.workers), tasks))})


class Starting:
    """The cluster, started in a thread while this one makes the store (the slow parts of
    both wait on other processes: worker start-up, kernel loading, disk)."""

    def __init__(self, settings: ServiceSettings, kernels: frozenset[str]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from .cluster import open_cluster

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="patchwalk-cluster")
        self._future = self._pool.submit(open_cluster, settings, kernels)
        self._pool.shutdown(wait=False)

    def result(self) -> ClusterSession:
        """The started session (raises what :func:`open_cluster` raised)."""
        try:
            return self._future.result()
        except KeyboardInterrupt:
            self.discard()
            raise

    def discard(self) -> None:
        """Close the cluster once it has started (the sweep will not run)."""
        try:
            self._future.result().close()
        except BaseException:  # noqa: BLE001 - it failed to start: nothing to close
            pass
