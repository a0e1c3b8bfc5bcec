"""Numba Monte-Carlo kernels (docs/interfaces.md §3): ``exact`` (default), ``euler``, ``pitch``.

Each ``run_*`` wrapper takes a :class:`~patchwalk_worker.media.Medium`, output times, a particle
count and a task state from :func:`patchwalk_worker.rng.task_state`, and returns a
:class:`KernelResult` of moment sums, first-passage sums and the particle-step count.
"""

from .common import KernelResult
from .euler import run_euler
from .exact import run_exact
from .pitch import run_pitch

__all__ = ["KernelResult", "run_euler", "run_exact", "run_pitch"]
