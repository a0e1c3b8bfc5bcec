"""The kernel registry: every kernel's :class:`~patchwalk_worker.kernels.kernel.Kernel` by name.

Task dispatch (:func:`patchwalk_worker.task.run_task`), budgets
(:mod:`patchwalk_worker.budget`) and warm-up (:func:`warm_up`) iterate over :data:`KERNELS`.
Its names are the spec's ``kernel`` values, whose one table is
``patchwalk_client.options.KERNEL_OPTIONS`` (a test checks that the two agree).

The registry finds the kernels itself: every module of this package that ends with a
``KERNEL = Kernel(...)`` declaration is one. Adding a kernel is its module, its options model
in ``patchwalk_client.options`` and its tests — no line here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import Any

import numpy as np
from patchwalk_client.options import KERNEL_OPTIONS
from patchwalk_client.spec import parse_spec

from ..media import build_medium
from ..rng import medium_rng, task_state
from .kernel import Kernel


def discover() -> dict[str, Kernel]:
    """Every ``KERNEL`` declared by a module of this package, in the order of KERNEL_OPTIONS.

    Raises
    ------
    RuntimeError
        If a kernel of KERNEL_OPTIONS has no module, or a module declares a kernel the spec
        cannot name (the message says which).
    """
    found: dict[str, Kernel] = {}
    for info in pkgutil.iter_modules(_package_path()):
        module = importlib.import_module(f"{__package__}.{info.name}")
        kernel = getattr(module, "KERNEL", None)
        if isinstance(kernel, Kernel):
            found[kernel.name] = kernel
    missing = [n for n in KERNEL_OPTIONS if n not in found]
    extra = [n for n in found if n not in KERNEL_OPTIONS]
    if missing or extra:
        raise RuntimeError(
            f"kernel registry: no module declares {missing} / {extra} are not in "
            "patchwalk_client.options.KERNEL_OPTIONS: every kernel needs both"
        )
    return {n: found[n] for n in KERNEL_OPTIONS}


def _package_path() -> list[str]:
    from . import __path__ as path

    return list(path)


#: Every kernel, by the name a spec gives it.
KERNELS: dict[str, Kernel] = discover()


def get_kernel(name: str) -> Kernel:
    """The kernel called ``name``.

    Raises
    ------
    ValueError
        If there is no such kernel (the message lists the kernels there are).
    """
    try:
        return KERNELS[name]
    except KeyError:
        raise ValueError(
            f"no kernel named {name!r}: use one of {', '.join(KERNELS)}"
        ) from None


def warm_up_spec(name: str, dimensions: int) -> dict[str, Any]:
    """A tiny feasible spec that runs kernel ``name`` in a fraction of a second."""
    medium: dict[str, Any] = {"patches": [[1.0, 1.0], [1.0, 0.1]]}
    if dimensions == 2:
        medium.update(kappa_perp=0.1, l_perp=1.0, strips=2)
    return {
        "name": "warm-up", "kernel": name, "dimensions": dimensions, "medium": medium,
        "particles": {"count": 2, "per_task": 2}, "times": {"min": 0.01, "max": 0.1, "count": 2},
        "escape": {"distances": [0.5]},
        "pitch": {"v": 10.0},  # mean free path 0.2 < the shortest patch: a feasible walk
    }


def warm_up(names: Iterable[str] | None = None) -> list[str]:
    """Compile (or load from the numba cache) kernels on their tiny warm-up media.

    Parameters
    ----------
    names : iterable of str, optional
        Kernels to warm (default: all). Unknown names raise ``ValueError``.

    Returns
    -------
    list of str
        What was warmed, as ``"<kernel><d>d"`` (e.g. ``"exact2d"``). A kernel that fails here
        is left out: warming is an optimisation, the real task reports the error.
    """
    kernels = list(KERNELS.values()) if names is None else [get_kernel(n) for n in names]
    warmed = []
    for kernel in kernels:
        for dims in kernel.warm_up:
            try:
                spec = parse_spec(warm_up_spec(kernel.name, dims))
                times = np.asarray(spec.output_times(), dtype=np.float64)
                medium = build_medium(spec, medium_rng(0, 0, 0), float(times[-1]))
                kernel.run(spec, medium, times, spec.particles.count, task_state(0, 0, 0))
            except Exception:  # noqa: BLE001 - warming is an optimisation only
                continue
            warmed.append(f"{kernel.name}{dims}d")
    return warmed
