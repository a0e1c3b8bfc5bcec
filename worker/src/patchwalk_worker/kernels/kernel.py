"""What a kernel declares: the :class:`Kernel` record that the registry collects.

Following the pattern dask-jobqueue uses for its cluster classes, every kernel module ends
with one declaration ``KERNEL = Kernel(...)`` that says everything the rest of the worker needs
to know about it: its name (the spec's ``kernel``), its options model (the spec's table of the
same name), how to run one task, its time-step rule and cost estimate (for budgets and ETAs),
the feasibility checks only it needs, and the media it is compiled on at warm-up.
:mod:`patchwalk_worker.kernels.registry` collects the declarations; task dispatch
(:mod:`patchwalk_worker.task`), budgets (:mod:`patchwalk_worker.budget`) and warm-up iterate
over it. Adding a kernel is one module with its declaration (the registry finds it), an
options model in ``patchwalk_client.options`` and its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .common import KernelResult

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec
    from pydantic import BaseModel

    from ..media import Medium

#: ``run(spec, medium, times, n_particles, state)``: one task's sums on its realisation.
RunTask = Callable[["SweepSpec", "Medium", np.ndarray, int, np.ndarray], KernelResult]
#: ``curves(spec, t)``: theory curves only this kernel has, by name, at the times ``t``.
Curves = Callable[["SweepSpec", np.ndarray], dict[str, np.ndarray]]
#: ``check(spec, max_bytes)``: field errors ``{loc, msg}`` of a point this kernel cannot run.
Check = Callable[["SweepSpec", float], list[dict[str, str]]]


def no_checks(spec: SweepSpec, max_bytes: float) -> list[dict[str, str]]:
    """The default :attr:`Kernel.check`: nothing beyond the common budget checks."""
    return []


def escape_distances(spec: SweepSpec) -> np.ndarray:
    """Escape distances L_esc of the spec as float64 (first passage |Δx| ≥ L)."""
    return np.asarray(list(spec.escape.distances), dtype=np.float64).reshape(-1)


def l_min(spec: SweepSpec) -> float:
    """Shortest possible patch of the point's medium (the length the time steps resolve)."""
    short = spec.medium.shortest_patch()
    if short is None or short <= 0:  # pragma: no cover - a validated spec always has one
        raise ValueError("the medium has no patches: validate the spec with load_spec first")
    return short


@dataclass(frozen=True)
class Kernel:
    """One kernel's declaration.

    Attributes
    ----------
    name : str
        The spec's ``kernel`` value; also the name of the spec's options table.
    options : type
        The pydantic options model of that table (``patchwalk_client.options``).
    run : callable
        ``run(spec, medium, times, n_particles, state) -> KernelResult``: one task of a
        resolved point spec on its medium realisation, options read from the spec.
    cost : callable
        ``cost(spec) -> float``: particle-steps (or lattice cell-updates) the point needs.
    advice : tuple of str
        ``(loc, msg)``: the field to change, and how, when :attr:`cost` exceeds the budget.
    dt : callable or None
        ``dt(spec) -> float``: the (smallest) time step of the point; None without one.
    cost_unit : str
        What :attr:`cost` counts, for messages.
    check : callable
        ``check(spec, max_bytes) -> [{loc, msg}]``: feasibility checks of this kernel only.
    warm_up : tuple of int
        Dimensions of the tiny media the kernel is compiled on at warm-up (empty: nothing to
        compile).
    curves : callable or None
        ``curves(spec, t) -> {name: array}``: theory curves of this kernel's model, stored
        with the common ones when the sweep is finalised (``/theory``); None: none.
    """

    name: str
    options: type[BaseModel]
    run: RunTask
    cost: Callable[[SweepSpec], float]
    advice: tuple[str, str]
    dt: Callable[[SweepSpec], float] | None = None
    cost_unit: str = "particle-steps"
    check: Check = no_checks
    warm_up: tuple[int, ...] = field(default=(1,))
    curves: Curves | None = None
