"""The ``reference`` kernel: the deterministic lattice of :mod:`patchwalk_worker.reference`.

No particles: one task is one realisation, and its "sums" are Σ1 = 1, ΣΔx = 0,
ΣΔx² = ⟨Δx²⟩(t) of the finite-volume lattice of the medium (Green–Kubo, docs/reference.md),
ΣΔx⁴ = nan. In 2D, ⟨Δy²⟩ = 2κ⊥t exactly (VALIDATION item 7), and ⟨Δx²⟩ is that of the 2D
lattice of the stacked strips (:mod:`patchwalk_worker.reference2d`; for κ⊥ = 0 the 1D one).
Escape sums are nan (no particles); the exact first-passage moments are stored beside them for
every kernel (:func:`patchwalk_worker.task.escape_reference`). The cost is counted in lattice
cell-updates, one per cell and output time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from patchwalk_client.options import ReferenceOptions

from ..media import Medium
from ..reference import reference_msd
from ..reference2d import reference_msd_2d
from .common import ESC_COLUMNS, KernelResult
from .kernel import Kernel, escape_distances, l_min

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

#: float64 arrays of lattice length the reference solver holds at once (sparse methods).
REFERENCE_ARRAYS = 16


def reference_cells(spec: SweepSpec) -> int:
    """Cells of the reference lattice: period / l_min · cells_per_l_min."""
    return math.ceil(spec.medium.period() / l_min(spec) * spec.reference.cells_per_l_min)


def _cost(spec: SweepSpec) -> float:
    """cells · n_times (one implicit/eigen update per output time)."""
    return float(reference_cells(spec) * len(spec.output_times()))


def _check(spec: SweepSpec, max_bytes: float) -> list[dict[str, str]]:
    """The lattice (dense for ``eigen``) must fit in memory."""
    cells = reference_cells(spec)
    dense = spec.reference.method == "eigen"
    need = 8.0 * cells * cells if dense else 8.0 * REFERENCE_ARRAYS * cells
    if need <= max_bytes:
        return []
    return [{"loc": "reference.cells_per_l_min", "msg": (
        f"the reference lattice has {cells} cells and needs about {need:.3g} bytes, "
        f"more than {max_bytes:.3g}: lower reference.cells_per_l_min or medium.length"
        + (", or use method = 'contour' (no dense matrix)" if dense else ""))}]


def _run(spec: SweepSpec, medium: Medium, times: np.ndarray, n_particles: int,
         state: np.ndarray) -> KernelResult:
    """Sums of the deterministic reference (docs/interfaces.md §4); ``state`` is unused."""
    n_t = times.shape[0]
    sums = np.zeros((n_t, 5), dtype=np.float64)
    sums[:, 0] = 1.0
    sums[:, 3] = np.nan
    if spec.dimensions == 2:
        kperp = float(medium.kappa_perp)
        sums[:, 4] = 2.0 * kperp * times  # VALIDATION item 7: exact at all t
        solve = reference_msd_2d if kperp > 0.0 else reference_msd
        sums[:, 2] = np.asarray(solve(medium, times, spec.reference), dtype=np.float64)
    else:
        sums[:, 2] = np.asarray(reference_msd(medium, times, spec.reference), dtype=np.float64)
    esc = np.full((escape_distances(spec).shape[0], len(ESC_COLUMNS)), np.nan, dtype=np.float64)
    return KernelResult(sums=sums, esc=esc, steps=0)


KERNEL = Kernel(
    name="reference", options=ReferenceOptions, run=_run, cost=_cost, check=_check,
    cost_unit="cell-updates", warm_up=(),
    advice=("reference.cells_per_l_min", "lower reference.cells_per_l_min, medium.length or "
            "times.count"),
)
