"""Deterministic 2D reference: ⟨Δx²⟩(t) of one stacked-strip realisation without particles.

The 2D medium (Section 4, Appendix D) is a stack of periodic strips of height l_⊥; strip ``s``
has its own piecewise-constant κ_s(x); y diffuses with a constant κ⊥ (eq. D2) and the stack is
periodic in y. The generator ∂x κ(x, y) ∂x + κ⊥ ∂y² is discretised by finite volumes on a
*conforming* tensor grid — a reversible random-barrier walk on cells, as the 1D lattice of
:mod:`patchwalk_worker.reference`:

* x-cells: one grid for every row, graded (:func:`~patchwalk_worker.reference.patch_cells`)
  between the *union* of all strips' patch edges, so each strip's interfaces lie on x-faces
  (near-coincident edges merged, short segments uniform: :mod:`.reference2d_grid`);
  x-face conductance ``1/(h_i/2κ_i + h_{i+1}/2κ_{i+1})`` (harmonic mean), as in 1D;
* y-cells: ``cells_per_strip`` per strip, graded geometrically from both strip edges, so the
  strip edges lie on y-faces; y-face conductance ``κ⊥/d`` (d = distance of the cell centres).

Because every row has the same x-faces, a y-jump never moves x: the position observable is the
cell centre and only x-jumps change it. Green–Kubo (VALIDATION item 3) then holds as in 1D,
``⟨Δx²⟩(t) = t⟨a⟩ − 2βᵀh_t(A)β`` with ⟨a⟩ the π-mean of the x-jump variance rate,
β = π^{1/2}b the symmetrised x-jump drift (non-zero only beside x-interfaces) and A = −L_sym
the symmetrised generator (sparse, 5-point, periodic in x and y). ⟨Δy²⟩ = 2κ⊥t is exact
(VALIDATION item 7) and not computed here.

``βᵀh_t(A)β`` is evaluated by one of three solvers (``method``; ``auto`` takes the one with
the smaller estimated work, :func:`choose_method`):

* ``"lanczos"``: Gauss quadrature ‖β‖²e₁ᵀh_t(T_m)e₁ from m Lanczos steps started at β, all
  output times from one Krylov space (:mod:`patchwalk_worker.reference2d_lanczos`); memory
  O(cells), work ≈ cells × 2.5√(λ_max·t_max) — the default for more than a few strips;
* ``"block"``: the parabolic contour of the 1D reference (12 nodes per time, relative error
  ≤ 2e-11 of the scalar rule), each node a complex solve (zI + A)x = β by block Thomas over
  x-columns + Woodbury for the x-period (numba, :mod:`patchwalk_worker.reference2d_solvers`),
  O(N_x · rows³) per node — the cross-check, and cheaper for one or two strips;
* ``"splu"``: the same contour with scipy SuperLU (tests only).

Limits (tests/worker/test_reference2d.py): κ⊥ = 0 gives the strips' 1D references averaged;
κ⊥ → ∞ gives the 1D reference of the column-averaged medium κ_c(x) = mean_s κ_s(x) (the
"κ_A of columns", Appendix B1); grid error is measured by refinement (docs/reference.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from patchwalk_worker.media import Medium
from patchwalk_worker.reference import CONTOUR_NODES, grading_for
from patchwalk_worker.reference2d_grid import (
    MERGE_FRACTION,
    strip_l_min,
    union_edges,
    x_cells,
    y_cells,
)
from patchwalk_worker.reference2d_solvers import (
    contour_nodes,
    msd_2d_block,
    msd_2d_splu,
    sparse_operator,
)

__all__ = ["Lattice2D", "build_lattice_2d", "contour_nodes", "msd_2d_block", "msd_2d_splu",
           "reference_kappa_2d", "reference_msd_2d", "sparse_operator", "strip_l_min",
           "union_edges", "y_cells"]

FloatArray = NDArray[np.float64]

#: Default y-cells per strip and their geometric grading ratio (edge cells finest); with
#: ``y_extrapolate`` the result is the Richardson extrapolation (second order, measured) of
#: this grid and the one with half the cells and the squared ratio.
CELLS_PER_STRIP = 16
Y_GRADING = 2.0**0.5
#: Default x resolution (cells across the shortest patch; as ``cells_per_l_min`` in 1D).
CELLS_PER_L_MIN_2D = 32
#: Largest work a reference may take, in block-solver complex multiply-adds (≈ 3 N_x R³ per
#: contour node); the Lanczos solver's cell-steps count LANCZOS_COST_RATIO each.
MAX_WORK = 2e12
#: One Lanczos cell-step costs about this many block-solver complex multiply-adds (measured
#: on one core, benchmarks/bench_reference2d.py).
LANCZOS_COST_RATIO = 4.5
#: float64 arrays per cell held at once (lattice fields and the Lanczos solver's arrays).
LATTICE_ARRAYS = 14
#: Largest memory the fine lattice and its solver may take.
MAX_BYTES = 8e9


@dataclass(frozen=True)
class Lattice2D:
    """Finite-volume lattice of a stack of strips (see module docstring).

    Attributes
    ----------
    hx : ndarray (N_x,)
        x-cell widths (common to all rows).
    hy : ndarray (R,)
        y-cell heights, strip after strip (R = strips × cells_per_strip).
    row_strip : ndarray of int64 (R,)
        Strip of each row.
    kappa : ndarray (R, N_x)
        κ of each cell.
    gx : ndarray (R, N_x)
        x-face conductance between column i and i+1 (periodic) in each row.
    gy : ndarray (R,)
        y-face conductance κ⊥/d between row r and r+1 (periodic).
    beta : ndarray (R, N_x)
        Symmetrised x-jump drift √π b.
    mean_a : float
        π-mean of the x-jump variance rate, twice the lattice κ_A.
    """

    hx: FloatArray
    hy: FloatArray
    row_strip: NDArray[np.int64]
    kappa: FloatArray
    gx: FloatArray
    gy: FloatArray
    beta: FloatArray
    mean_a: float

    @property
    def n_rows(self) -> int:
        return int(self.hy.shape[0])

    @property
    def n_cols(self) -> int:
        return int(self.hx.shape[0])

    @property
    def n_cells(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def kappa_A(self) -> float:
        """Lattice κ̄(0⁺) = ⟨a⟩/2."""
        return 0.5 * self.mean_a

    def symmetric_parts(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(diag, off_x, off_y) of A = −L_sym, each (R, N_x).

        ``off_x[r, i]`` couples (r, i) with (r, i+1 mod N_x); ``off_y[r, i]`` couples (r, i)
        with (r+1 mod R, i).
        """
        hx = self.hx[None, :]
        hx_next = np.roll(self.hx, -1)[None, :]
        hy = self.hy[:, None]
        hy_next = np.roll(self.hy, -1)[:, None]
        gx, gy = self.gx, self.gy[:, None]
        diag = (gx + np.roll(gx, 1, axis=1)) / hx + (gy + np.roll(gy, 1, axis=0)) / hy
        off_x = -gx / np.sqrt(hx * hx_next)
        off_y = np.broadcast_to(-gy / np.sqrt(hy * hy_next), diag.shape).copy()
        return diag, off_x, off_y


def build_lattice_2d(
    medium: Medium,
    *,
    cells_per_l_min: int = CELLS_PER_L_MIN_2D,
    cells_per_strip: int = CELLS_PER_STRIP,
    y_grading: float = Y_GRADING,
    l_min: float | None = None,
) -> Lattice2D:
    """Finite-volume lattice of a stacked-strip medium (module docstring).

    Parameters
    ----------
    medium : Medium
        Strips of one period ``length``, height ``l_perp`` (> 0 if more than one strip) and
        κ⊥ = ``medium.kappa_perp`` (energy scaling applied).
    cells_per_l_min : int
        x resolution as in 1D (:func:`~patchwalk_worker.reference.grading_for`), applied to
        every segment between consecutive edges of the union of the strips (edges closer
        than h0/4 merged, segments shorter than 4·h0 uniform:
        :mod:`patchwalk_worker.reference2d_grid`).
    cells_per_strip : int
        y-cells per strip, graded by ``y_grading`` from both strip edges.
    l_min : float, optional
        Length that sets the finest x-cell (default: the strips' shortest non-closing patch).
    """
    kap = np.asarray(medium.kappa, dtype=np.float64)
    if np.any(kap <= 0) or not np.all(np.isfinite(kap)):
        raise ValueError("every patch needs a positive, finite kappa")
    k_perp = float(medium.kappa_perp)
    if k_perp < 0:
        raise ValueError(f"kappa_perp must be >= 0, got {k_perp}")
    n_strips = medium.n_strips
    l_perp = float(medium.l_perp) if medium.l_perp > 0 else 1.0
    if n_strips > 1 and not medium.l_perp > 0:
        raise ValueError("a medium with several strips needs l_perp > 0")
    lm = float(l_min) if l_min is not None else strip_l_min(medium)
    h0, ratio = grading_for(int(cells_per_l_min), lm)
    ue = union_edges(medium, merge=MERGE_FRACTION * h0)
    hx, seg_of_cell = x_cells(np.diff(ue), h0, ratio)
    mid = 0.5 * (ue[:-1] + ue[1:])
    centres = mid[seg_of_cell]
    hy_strip = y_cells(l_perp, int(cells_per_strip), float(y_grading))
    n_y = hy_strip.shape[0]
    hy = np.tile(hy_strip, n_strips)
    row_strip = np.repeat(np.arange(n_strips, dtype=np.int64), n_y)
    k_strip = np.empty((n_strips, hx.shape[0]))
    for s in range(n_strips):
        e, k = medium.strip(s)
        idx = np.clip(np.searchsorted(e, centres, side="right") - 1, 0, k.shape[0] - 1)
        k_strip[s] = k[idx]
    kc = k_strip[row_strip]
    hx_next = np.roll(hx, -1)
    k_next = np.roll(kc, -1, axis=1)
    gx = 1.0 / (0.5 * hx[None, :] / kc + 0.5 * hx_next[None, :] / k_next)
    dist = 0.5 * (hx + hx_next)[None, :]
    gd = gx * dist
    b = (gd - np.roll(gd, 1, axis=1)) / hx[None, :]
    period = float(np.sum(hx))
    height = float(np.sum(hy))
    pi = hx[None, :] * hy[:, None] / (period * height)
    beta = np.sqrt(pi) * b
    mean_a = float(np.sum(hy[:, None] * 2.0 * gx * dist**2) / (period * height))
    dy = 0.5 * (hy + np.roll(hy, -1))
    gy = k_perp / dy
    if n_strips == 1 and n_y == 1:
        gy = np.zeros(1)
    return Lattice2D(hx=hx, hy=hy, row_strip=row_strip, kappa=kc, gx=gx, gy=gy, beta=beta,
                     mean_a=mean_a)


def _option(options: Any, name: str, default: Any) -> Any:
    if options is None:
        return default
    if isinstance(options, dict):
        return options.get(name, default)
    return getattr(options, name, default)


def work_estimate(lat: Lattice2D, n_times: int) -> float:
    """Complex multiply-adds of the block solver for ``n_times`` output times."""
    return 3.0 * lat.n_cols * float(lat.n_rows) ** 3 * CONTOUR_NODES * n_times


def lanczos_work(lat: Lattice2D, t_max: float) -> float:
    """Lanczos cost in block-solver units: cells × estimated steps × LANCZOS_COST_RATIO."""
    from patchwalk_worker.reference2d_lanczos import lanczos_step_estimate

    return LANCZOS_COST_RATIO * lat.n_cells * float(lanczos_step_estimate(lat, t_max))


def choose_method(lat: Lattice2D, times: FloatArray, method: str) -> tuple[str, float]:
    """(solver, its work in block units) for ``method`` (``auto``: the cheaper estimate)."""
    if method not in ("auto", "contour", "eigen", "lanczos", "block", "splu"):
        raise ValueError("2D reference method must be 'auto', 'lanczos', 'block' or 'splu', "
                         f"got {method!r}")
    block = work_estimate(lat, times.shape[0])
    krylov = lanczos_work(lat, float(np.max(times)))
    use = method
    if method in ("auto", "contour", "eigen"):
        use = "lanczos" if krylov < block else "block"
    return use, (krylov if use == "lanczos" else block)


def _msd(lat: Lattice2D, times: FloatArray, method: str) -> FloatArray:
    if method == "lanczos":
        from patchwalk_worker.reference2d_lanczos import lanczos_msd_2d

        return lanczos_msd_2d(lat, times).msd
    if method == "block":
        return msd_2d_block(lat, times)
    return msd_2d_splu(lat, times)


def _too_large(lat: Lattice2D, what: str, cells_per_strip: int) -> ValueError:
    return ValueError(
        f"the 2D reference lattice is too large ({lat.n_cols} x-cells x {lat.n_rows} rows = "
        f"{lat.n_cells} cells; {what}): reduce medium.strips (rows = strips x "
        f"{cells_per_strip}, and the x-cells grow with the union of all strips' edges, so "
        "cells grow as strips^2), medium.length or reference.cells_per_l_min, or times.max "
        "(Lanczos steps grow as sqrt(t_max))")


def reference_msd_2d(
    medium: Medium,
    times: ArrayLike,
    options: Any = None,
    *,
    cells_per_l_min: int | None = None,
    cells_per_strip: int = CELLS_PER_STRIP,
    y_grading: float = Y_GRADING,
    y_extrapolate: bool = True,
    method: str | None = None,
    max_work: float = MAX_WORK,
    max_bytes: float = MAX_BYTES,
) -> FloatArray:
    """⟨Δx²⟩(t) of the 2D lattice of ``medium``, uniform start (module docstring).

    Parameters
    ----------
    medium : Medium
        Stacked strips with κ⊥ = ``medium.kappa_perp`` (energy scaling applied). κ⊥ = 0 is
        delegated to the 1D reference (:func:`~patchwalk_worker.reference.reference_msd`).
    times : array_like
        Output times, > 0.
    options : ReferenceOptions or dict, optional
        ``cells_per_l_min`` (x resolution) and ``method`` (``auto``/``contour``/``eigen`` →
        the solver with the smaller estimated work, or ``lanczos``, ``block``, ``splu``);
        keywords override it.
    cells_per_strip, y_grading : int, float
        y-cells per strip and their geometric grading from the strip edges.
    y_extrapolate : bool
        Richardson-extrapolate in y (second order) from this grid and the one with
        ``cells_per_strip // 2`` cells and ratio ``y_grading²`` (default True).
    max_work : float
        Refuse (ValueError) when the chosen solver's estimated work exceeds this many
        block-solver complex operations (Lanczos: cells × estimated steps ×
        ``LANCZOS_COST_RATIO``), both grids together.
    max_bytes : float
        Refuse when the Lanczos arrays of the fine grid would exceed this many bytes.

    Returns
    -------
    ndarray (n_times,)
    """
    from patchwalk_worker.reference import reference_msd

    t_arr = np.asarray(times, dtype=np.float64)
    if np.any(t_arr <= 0) or not np.all(np.isfinite(t_arr)):
        raise ValueError("reference times must be positive and finite")
    if medium.kappa_perp <= 0.0:
        return reference_msd(medium, t_arr, options, cells_per_l_min=cells_per_l_min,
                             method=method)
    cpl = int(cells_per_l_min or _option(options, "cells_per_l_min", CELLS_PER_L_MIN_2D))
    meth = str(method or _option(options, "method", "auto"))
    fine = build_lattice_2d(medium, cells_per_l_min=cpl, cells_per_strip=cells_per_strip,
                            y_grading=y_grading)
    extrapolate = y_extrapolate and medium.n_strips > 1 and cells_per_strip >= 4
    use, work = choose_method(fine, t_arr, meth)
    coarse = None
    if extrapolate:
        coarse = build_lattice_2d(medium, cells_per_l_min=cpl,
                                  cells_per_strip=cells_per_strip // 2, y_grading=y_grading**2)
        work += choose_method(coarse, t_arr, use)[1]
    need = LATTICE_ARRAYS * 8.0 * fine.n_cells
    if medium.n_strips > 1 and need > max_bytes:
        raise _too_large(fine, f"~{need:.1e} bytes > {max_bytes:.0e}", cells_per_strip)
    if medium.n_strips > 1 and work > max_work:
        raise _too_large(fine, f"{use} solver, ~{work:.1e} operations > {max_work:.0e}",
                         cells_per_strip)
    out = _msd(fine, t_arr, use)
    if coarse is not None:
        out = out + (out - _msd(coarse, t_arr, use)) / 3.0
    return out


def reference_kappa_2d(
    medium: Medium, times: ArrayLike, options: Any = None, **kwargs: Any
) -> FloatArray:
    """κ̄_2D(t) = ⟨Δx²⟩/(2t) of the 2D lattice (:func:`reference_msd_2d`)."""
    t_arr = np.asarray(times, dtype=np.float64)
    return reference_msd_2d(medium, t_arr, options, **kwargs) / (2.0 * t_arr)
