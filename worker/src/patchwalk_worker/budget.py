"""Memory estimates and feasibility checks of one sweep point (its cost: :mod:`.cost`).

All estimates use the energy-scaled coefficients κ·(E/E0)^β of the point and the shortest
possible patch l_min of its medium (power law: ``l_min``; narrow: ``mean − width/2``;
exponential: ``l_min``, or its 1 % quantile when ``l_min = 0``; explicit: the shortest patch).
They are meant for budgets, ETAs and refusing hopeless points, not for benchmarking. Each
kernel declares its own time step, cost and extra checks
(:mod:`patchwalk_worker.kernels.registry`); this module applies the common limits.
"""

from __future__ import annotations

import math
import os
from typing import Any

from patchwalk_client.spec import SweepSpec

from patchwalk_worker.kernels.registry import get_kernel
from patchwalk_worker.media import strip_count

#: Bytes per patch of a medium realisation (an edge and a κ, float64 each).
BYTES_PER_PATCH = 16


def n_strips(spec: SweepSpec) -> int:
    """Strips of the point's realisations: exactly what :func:`~.media.build_medium` draws."""
    return strip_count(spec, float(spec.output_times()[-1]))


def medium_bytes(spec: SweepSpec) -> float:
    """Approximate bytes of one realisation: 16 B per patch × (length/⟨l⟩) × strips.

    ⟨l⟩ is the mean patch length over the two alternating phases.
    """
    m = spec.medium
    if m.patches:
        return float(BYTES_PER_PATCH * len(m.patches) * n_strips(spec))
    pdfs = [m.phase_pdf("high"), m.phase_pdf("low")]
    mean = sum(p.mean_length() for p in pdfs if p is not None) / 2.0
    return BYTES_PER_PATCH * m.period() / mean * n_strips(spec)


def estimate_steps(spec: SweepSpec) -> float:
    """Upper bound of the particle-steps one point needs (lattice cell-updates for the reference).

    The kernel's declared cost (``Kernel.cost``): ``euler`` and ``pitch`` count · t_max / Δt,
    exactly what they do; ``exact`` count · (n_times + t_max / Δt_min), an upper bound that
    assumes every step is taken in the fastest phase next to the shortest patch (50–1600×
    above the true count on the examples); ``reference`` cells · n_times. Budgets use the
    estimate of :func:`patchwalk_worker.cost.point_cost` (within 2×, from a pilot run) instead;
    this bound only caps the pilot's first rung.
    """
    return float(get_kernel(spec.kernel).cost(spec))


def physical_memory() -> int | None:
    """Physical memory in bytes (``None`` where ``os.sysconf`` cannot tell)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def check_feasible(spec: SweepSpec, *, max_bytes: float | None = None) -> list[dict[str, Any]]:
    """Field errors for a resolved point spec that cannot run.

    Parameters
    ----------
    spec : SweepSpec
        A resolved point spec (energy scaling κ·(E/E0)^β is applied here).
    max_bytes : float, optional
        Largest acceptable medium (or reference lattice); default half the physical memory.

    Returns
    -------
    list of dict
        ``{"loc": dotted field, "msg": what to change}``; empty when the point is feasible.
    """
    if max_bytes is None:
        mem = physical_memory()
        max_bytes = mem / 2 if mem else math.inf
    kernel = get_kernel(spec.kernel)
    errors: list[dict[str, Any]] = list(kernel.check(spec, max_bytes))
    nbytes = medium_bytes(spec)
    if nbytes > max_bytes:
        errors.append({"loc": "medium.length", "msg": (
            f"one realisation needs about {nbytes:.3g} bytes, more than {max_bytes:.3g}: lower "
            "medium.length" + (" or medium.strips" if spec.dimensions == 2 else ""))})
    return errors
