"""Kernels (docs/interfaces.md §3): ``exact`` (default), ``euler``, ``pitch`` and ``reference``.

Each numba kernel has a ``run_*`` wrapper that takes a :class:`~patchwalk_worker.media.Medium`,
output times, a particle count and a task state from :func:`patchwalk_worker.rng.task_state`,
and returns a :class:`KernelResult` of moment sums, first-passage sums and the step count.
Each kernel module ends with its :class:`~patchwalk_worker.kernels.kernel.Kernel` declaration;
:mod:`patchwalk_worker.kernels.registry` collects them by name.
"""

from .common import KernelResult
from .euler import run_euler
from .exact import run_exact
from .pitch import run_pitch

__all__ = ["KernelResult", "run_euler", "run_exact", "run_pitch"]
