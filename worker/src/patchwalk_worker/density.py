"""Density n(x, t) of a point source (Fig. 2), deterministically on the reference lattice, and
histograms of Monte-Carlo positions.

The lattice is the finite-volume (random-barrier) lattice of :mod:`patchwalk_worker.reference`
(:func:`~patchwalk_worker.reference.build_lattice`): cell masses p obey dp/dt = pQ with jump
rates Q_{i,i±1} = G/h_i and invariant law π_i = h_i/P. With the symmetrised operator
A = −Π^{1/2} Q Π^{−1/2} (the lattice's ``diag``/``off``), q = Π^{−1/2} p evolves as
q(t) = e^{−tA} q(0), so a point source of unit mass in cell i₀ gives

    p(t) = Π^{1/2} e^{−tA} Π^{−1/2} e_{i₀},   n_i(t) = p_i(t)/h_i   (solution of eq. 1).

Two ways to apply e^{−tA}: ``eigen`` (dense ``eigh``, small lattices) and ``contour``: the
inverse Laplace transform e^{−tA} = (1/2πi)∫_Γ e^{zt}(zI + A)^{−1} dz on the parabola
z = μ(1 + iu)², trapezoid rule with 16 nodes on the upper half (conjugate symmetry),
step 2.7/16, μ = 0.3·16/t — tuned here so that the scalar rule reproduces e^{−λt} to 5e-15
absolutely for all λ ≥ 0; each node is one complex cyclic tridiagonal solve (the reference's
Thomas sweep plus a Sherman–Morrison correction for the two corner entries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from patchwalk_client.models import DensityPoint

from patchwalk_worker.media import Medium, build_medium
from patchwalk_worker.reference import EIGEN_MAX_CELLS, Lattice, build_lattice, dense_operator
from patchwalk_worker.reference_solvers import cyclic_solve
from patchwalk_worker.rng import medium_rng

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

FloatArray = NDArray[np.float64]

#: Parabolic contour for e^{−tA}: nodes on the upper half, step factor, μ factor.
DENSITY_NODES = 16
DENSITY_STEP = 2.7
DENSITY_MU = 0.3


def evolve(lat: Lattice, p0: ArrayLike, times: ArrayLike, method: str = "auto") -> FloatArray:
    """Cell masses p(t) from p(0) = ``p0`` at each time: shape (n_times, N) or (n_times, N, m).

    Parameters
    ----------
    lat : Lattice
        From :func:`~patchwalk_worker.reference.build_lattice`.
    p0 : array_like (N,) or (N, m)
        Initial cell masses (m independent columns).
    times : array_like
        Times > 0.
    method : {"auto", "eigen", "contour"}
        ``auto``: ``eigen`` up to ``reference.EIGEN_MAX_CELLS`` cells.
    """
    p = np.asarray(p0, dtype=np.float64)
    t_arr = np.asarray(times, dtype=np.float64).reshape(-1)
    if p.ndim not in (1, 2) or p.shape[0] != lat.n_cells:
        raise ValueError(f"p0 must have one row per lattice cell ({lat.n_cells})")
    if t_arr.size == 0 or np.any(t_arr <= 0) or not np.all(np.isfinite(t_arr)):
        raise ValueError("density times must be positive and finite")
    if method not in ("auto", "eigen", "contour"):
        raise ValueError(f"method must be 'auto', 'eigen' or 'contour', got {method!r}")
    use = method
    if use == "auto":
        use = "eigen" if lat.n_cells <= EIGEN_MAX_CELLS else "contour"
    root = np.sqrt(lat.h / float(np.sum(lat.h)))
    if p.ndim == 2:
        root = root[:, None]
    q0 = p / root
    out = np.empty((t_arr.size,) + p.shape)
    if use == "eigen":
        lam, vec = np.linalg.eigh(dense_operator(lat))
        c = vec.T @ q0
        decay = np.exp(-np.outer(t_arr, lam))
        for j in range(t_arr.size):
            dj = decay[j] if p.ndim == 1 else decay[j][:, None]
            out[j] = root * (vec @ (dj * c))
        return out
    if p.ndim == 2:
        cols = [evolve(lat, p[:, c], t_arr, "contour") for c in range(p.shape[1])]
        return np.stack(cols, axis=-1)
    m = DENSITY_NODES
    step = DENSITY_STEP / m
    u = np.arange(m) * step
    weights = np.ones(m)
    weights[0] = 0.5
    q0c = q0.astype(np.complex128)
    for j, t in enumerate(t_arr):
        mu = DENSITY_MU * m / t
        acc = np.zeros(lat.n_cells)
        for k in range(m):
            z = mu * (1.0 + 1j * u[k]) ** 2
            dz = 2j * mu * (1.0 + 1j * u[k])
            x = cyclic_solve(lat.diag, lat.off, complex(z), q0c)
            acc += weights[k] * (np.exp(z * t) * dz * x).imag
        out[j] = root * acc * step / np.pi
    return out


@dataclass(frozen=True)
class LatticeDensity:
    """Density of a unit point source on the lattice of one periodic medium.

    Attributes
    ----------
    x0 : float
        Source position (the source is the lattice cell containing it).
    offset : ndarray (N,)
        Cell centre minus x0, wrapped into [−P/2, P/2), sorted (cells in this order).
    h, kappa : ndarray (N,)
        Cell widths and κ, same order.
    times : ndarray (n_times,)
    density : ndarray (n_times, N)
        n(x, t) per unit length; Σ density·h = 1.
    """

    x0: float
    offset: FloatArray
    h: FloatArray
    kappa: FloatArray
    times: FloatArray
    density: FloatArray

    def mass(self) -> FloatArray:
        """Total mass at each time (1 up to round-off)."""
        return np.asarray(self.density @ self.h, dtype=np.float64)

    def msd(self) -> FloatArray:
        """⟨(x − x0)²⟩ at each time (offsets wrapped: valid while the spread is ≪ P/2)."""
        return np.asarray(self.density @ (self.h * self.offset**2), dtype=np.float64)

    def binned(self, edges: ArrayLike) -> FloatArray:
        """Mean density over bins ``edges`` (offsets from x0, increasing): (n_times, n_bins).

        The density is constant in each cell, so the cumulative mass is piecewise linear and
        each bin gets its exact mass / width.
        """
        be = np.asarray(edges, dtype=np.float64)
        if be.ndim != 1 or be.size < 2 or np.any(np.diff(be) <= 0):
            raise ValueError("bin edges must be an increasing 1D array of >= 2 values")
        cell_edges = np.concatenate([[self.offset[0] - 0.5 * self.h[0]],
                                     self.offset + 0.5 * self.h])
        out = np.empty((self.times.size, be.size - 1))
        for j in range(self.times.size):
            cum = np.concatenate([[0.0], np.cumsum(self.density[j] * self.h)])
            out[j] = np.diff(np.interp(be, cell_edges, cum)) / np.diff(be)
        return out


def point_source_density(
    medium: Medium, x0: float, times: ArrayLike, *, cells_per_l_min: int = 16,
    method: str = "auto", l_min: float | None = None, grading: float | None = None,
) -> LatticeDensity:
    """n(x, t) of a unit point source at ``x0`` in a 1D ``medium`` (Fig. 2), on the lattice.

    Parameters
    ----------
    medium : Medium
        A 1D medium (periodic; keep the spread √(2κ_A t) well below half its length).
    x0 : float
        Source position in [0, length).
    times : array_like
        Output times > 0.
    cells_per_l_min, l_min, grading
        Lattice resolution, as for :func:`~patchwalk_worker.reference.reference_msd` (16 cells
        per shortest patch is plenty for plotting; the reference uses 64).
    method : {"auto", "eigen", "contour"}
        See :func:`evolve`.
    """
    if medium.n_strips != 1:
        raise ValueError("point_source_density needs a 1D medium (one strip)")
    length = float(medium.length)
    if not 0.0 <= x0 < length:
        raise ValueError(f"x0 must lie in [0, {length}) (got {x0})")
    edges, kap = medium.strip(0)
    lat = build_lattice(edges, kap, cells_per_l_min=cells_per_l_min, l_min=l_min,
                        grading=grading)
    left = np.concatenate([[0.0], np.cumsum(lat.h)[:-1]])
    i0 = int(np.clip(np.searchsorted(left, x0, side="right") - 1, 0, lat.n_cells - 1))
    p0 = np.zeros(lat.n_cells)
    p0[i0] = 1.0
    t_arr = np.asarray(times, dtype=np.float64).reshape(-1)
    mass = evolve(lat, p0, t_arr, method)
    centre = left + 0.5 * lat.h
    off = np.mod(centre - x0 + 0.5 * length, length) - 0.5 * length
    order = np.argsort(off, kind="stable")
    return LatticeDensity(
        x0=float(x0), offset=off[order], h=lat.h[order], kappa=lat.kappa[order], times=t_arr,
        density=mass[:, order] / lat.h[order],
    )


def histogram_density(
    displacements: ArrayLike, edges: ArrayLike, n_total: int | None = None
) -> tuple[FloatArray, FloatArray]:
    """Density estimate and its standard error from Monte-Carlo displacements.

    Parameters
    ----------
    displacements : array_like, shape (n,) or (n_times, n)
        x − x0 of each particle (e.g. from ``streaming_positions``: ``pos[1:] − pos[0]``).
    edges : array_like
        Bin edges.
    n_total : int, optional
        Particles the density is normalised to (default: all given, so bins outside the
        edges still count as mass).

    Returns
    -------
    density, stderr : ndarray
        counts/(n·width) and √counts/(n·width), shape (n_bins,) or (n_times, n_bins).
    """
    d = np.asarray(displacements, dtype=np.float64)
    be = np.asarray(edges, dtype=np.float64)
    if be.ndim != 1 or be.size < 2 or np.any(np.diff(be) <= 0):
        raise ValueError("bin edges must be an increasing 1D array of >= 2 values")
    rows = d.reshape(1, -1) if d.ndim == 1 else d
    n = rows.shape[1] if n_total is None else int(n_total)
    if n <= 0:
        raise ValueError("need at least one particle")
    counts = np.array([np.histogram(r, bins=be)[0] for r in rows], dtype=np.float64)
    width = np.diff(be)
    dens = counts / (n * width)
    err = np.sqrt(counts) / (n * width)
    if d.ndim == 1:
        return dens[0], err[0]
    return dens, err


def density_window(spec: SweepSpec, medium: Medium,
                   times: ArrayLike) -> tuple[float, FloatArray]:
    """Source x0 and bin edges (offsets from x0) of a point's ``[density]`` on ``medium``.

    x0 = ``density.x0`` modulo the period (default its middle); ``density.bins`` equal bins
    over ±``half_width`` (default 4·√(2κ_max t_max)), at most half the period. The lattice
    record and the Monte-Carlo histograms (:mod:`patchwalk_worker.histogram`) share it.
    """
    req = spec.density
    if req is None:
        raise ValueError("the spec has no [density] table")
    length = float(medium.length)
    x0 = 0.5 * length if req.x0 is None else float(req.x0) % length
    half = req.half_width
    if half is None:
        t_max = float(np.max(np.asarray(times, dtype=np.float64)))
        half = 4.0 * math.sqrt(2.0 * float(np.max(medium.kappa)) * t_max)
    half = min(float(half), 0.5 * length)
    return x0, np.linspace(-half, half, req.bins + 1)


def density_record(spec: SweepSpec, point: int, params: dict[str, Any]) -> DensityPoint:
    """The ``[density]`` output of one point of a ``reference`` sweep (stored at finalize).

    The source sits at ``density.x0`` (default: the middle of the period) in the realisation of
    task 0 of the point (the one :func:`~patchwalk_worker.task.run_task` draws), and n(x, t) is
    evolved exactly on its lattice (eq. 1) with ``reference.cells_per_l_min``; it is stored as
    bin means over ``[x0 − half_width, x0 + half_width]`` (default half width 4·√(2κ_max
    t_max), at most half the period), with the whole lattice's mass and ⟨(x − x0)²⟩ — the
    latter equals the reference kernel's ⟨Δx²⟩ only on average over x0, not for one source.
    """
    req = spec.density
    if req is None:
        raise ValueError("the spec has no [density] table")
    times = np.asarray(spec.output_times(), dtype=np.float64)
    medium = build_medium(spec, medium_rng(spec.seed, point, 0), float(times[-1]))
    length = float(medium.length)
    x0, edges = density_window(spec, medium, times)
    half = float(edges[-1])
    dens = point_source_density(medium, x0, times,
                                cells_per_l_min=spec.reference.cells_per_l_min,
                                method=spec.reference.method)
    strip_edges, kap = medium.strip(0)
    off = np.mod(strip_edges - x0 + 0.5 * length, length) - 0.5 * length
    inside = np.nonzero((off[1:-1] > -half) & (off[1:-1] < half))[0] + 1
    order = inside[np.argsort(off[inside], kind="stable")]
    # κ left of the first interface inside the window, then right of each interface
    first = (order[0] - 1) if order.size else int(np.searchsorted(strip_edges, x0, "right") - 1)
    patch_kappa: list[float | None] = [float(kap[first % kap.size])]
    patch_kappa += [float(kap[i % kap.size]) for i in order]

    def nums(a: ArrayLike) -> list[float | None]:
        return [float(v) if math.isfinite(v) else None
                for v in np.asarray(a, dtype=np.float64).tolist()]

    return DensityPoint(
        params=params, t=nums(times), x0=x0, edges=nums(edges),
        density=[nums(row) for row in dens.binned(edges)], mass=nums(dens.mass()),
        msd=nums(dens.msd()), method="lattice", kappa_A=float(medium.kappa_A),
        kappa_H=float(medium.kappa_H), patch_edges=nums(off[order]), patch_kappa=patch_kappa,
    )
