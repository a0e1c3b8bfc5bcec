"""Deterministic reference: ⟨Δx²⟩(t) of one medium realisation without particles.

The medium (eq. 1, piecewise-constant κ) is discretised as a finite-volume lattice — a
random-barrier walk — with patch interfaces on cell faces. Cell ``i`` has width ``h_i`` and
κ_i; the face between ``i`` and ``i+1`` has conductance ``G = 1/(h_i/2κ_i + h_{i+1}/2κ_{i+1})``,
the walk jumps ``i → i±1`` at rate ``G/h_i`` by ``d = (h_i + h_{i±1})/2``, and its invariant
density is ``π_i = h_i / P``. Its κ_H equals the continuum κ_H exactly (VALIDATION item 3).

Green–Kubo for a reversible jump process started in π:

    ⟨Δx²⟩(t) = t⟨a⟩ − 2 ∫₀ᵗ (t − s) ⟨b, e^{sL} b⟩_π ds,

with ``a_i = Σ rate·d²`` (jump variance rate; ⟨a⟩/2 is the lattice κ_A) and ``b_i = Σ rate·(±d)``
(jump drift, non-zero only next to interfaces). With ``A = −D^{1/2} L D^{-1/2}`` (symmetric,
cyclic tridiagonal, PSD) and ``β = π^{1/2} b`` the integral is ``βᵀ h_t(A) β``,
``h_t(λ) = ∫₀ᵗ (t−s) e^{−λs} ds = t/λ − (1 − e^{−λt})/λ²``. Two solvers:

* ``eigen`` — dense ``eigh`` of A (≤ ~3000 cells).
* ``contour`` — ``βᵀh_t(A)β = (1/2πi)∫_Γ e^{zt} βᵀ(zI + A)⁻¹β / z² dz`` on the parabola
  ``z = μ(1 + iu)²`` (Weideman–Trefethen type), trapezoid rule with 12 nodes on the upper half
  (conjugate symmetry), ``h = 2.2/12``, ``μ = 0.45·12/t``: scalar relative error ≤ 2e-11
  uniformly in λ ≥ 0. Each node is one complex cyclic tridiagonal solve (numba, O(N)).

Cells: within each patch, widths grow geometrically from ``h0`` at both interfaces towards the
middle, with the ratio chosen so a patch of length ``l_min`` gets ``cells_per_l_min`` cells and
``h0 = l_min / (4 cells_per_l_min)`` (:func:`grading_for`); ``l_min`` is the shortest
patch other than the last one (the closing patch of a random strip may be arbitrarily short;
it still gets >= 4 cells), or the value given. Accuracy against the continuum is measured
in docs/reference.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from patchwalk_worker.media import Medium
from patchwalk_worker.reference_solvers import resolvent_forms

FloatArray = NDArray[np.float64]

#: Parabolic contour: nodes on the upper half, step factor, μ factor (see module docstring).
CONTOUR_NODES = 12
CONTOUR_STEP = 2.2
CONTOUR_MU = 0.45
#: ``method="auto"`` uses ``eigen`` up to this many cells.
EIGEN_MAX_CELLS = 2000


@dataclass(frozen=True)
class Lattice:
    """Finite-volume lattice of one periodic strip (see module docstring).

    Attributes
    ----------
    h, kappa : ndarray (N,)
        Cell widths and κ.
    diag, off : ndarray (N,)
        A = −L_sym: ``diag[i]``, and ``off[i]`` coupling ``i`` and ``i+1`` (``off[N-1]``: N−1 ↔ 0).
    beta : ndarray (N,)
        Symmetrised jump drift ``√π_i b_i``.
    mean_a : float
        ⟨a⟩_π, twice the lattice κ_A.
    """

    h: FloatArray
    kappa: FloatArray
    diag: FloatArray
    off: FloatArray
    beta: FloatArray
    mean_a: float

    @property
    def n_cells(self) -> int:
        return int(self.h.shape[0])

    @property
    def kappa_A(self) -> float:
        """Lattice κ̄(0⁺) = ⟨a⟩/2 (below the continuum κ_A by O(h0/l))."""
        return 0.5 * self.mean_a

    @property
    def kappa_H(self) -> float:
        """Harmonic mean of the cells (= continuum κ_H of the strip)."""
        return float(np.sum(self.h) / np.sum(self.h / self.kappa))


def patch_cells(
    lengths: ArrayLike, h0: float, grading: float = 1.0
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Cell widths of every patch, graded geometrically from ``h0`` at both of its ends.

    Each half-patch gets ``k >= 2`` cells of widths ``s·h0·rⁱ`` (``i = 0`` at the interface),
    ``s <= 1`` chosen so they fill the half exactly; ``grading = 1`` gives uniform cells.

    Returns
    -------
    h : ndarray
        Cell widths, patch after patch.
    patch_of_cell : ndarray of int64
        Index of the patch each cell belongs to.
    """
    ell = np.asarray(lengths, dtype=np.float64)
    half = 0.5 * ell
    r = float(grading)
    if r < 1.0:
        raise ValueError(f"grading must be >= 1 (1 = uniform cells), got {grading}")
    if r == 1.0:
        k = np.ceil(half / h0 - 1e-9).astype(np.int64)
    else:
        k = np.ceil(np.log1p(half * (r - 1.0) / h0) / np.log(r) - 1e-9).astype(np.int64)
    k = np.maximum(k, 2)
    geo_sum = k.astype(np.float64) if r == 1.0 else (r ** k.astype(np.float64) - 1.0) / (r - 1.0)
    scale = half / geo_sum  # = s·h0
    n_per = 2 * k
    patch_of_cell = np.repeat(np.arange(ell.shape[0], dtype=np.int64), n_per)
    starts = np.concatenate([[0], np.cumsum(n_per)[:-1]])
    local = np.arange(patch_of_cell.shape[0], dtype=np.int64) - np.repeat(starts, n_per)
    kk = np.repeat(k, n_per)
    idx = np.where(local < kk, local, 2 * kk - 1 - local)
    h = np.repeat(scale, n_per) * r ** idx.astype(np.float64)
    return h, patch_of_cell


#: Interface cells are this many times finer than ``l_min / cells_per_l_min``.
INTERFACE_REFINEMENT = 4.0


def grading_for(cells_per_l_min: int, l_min: float) -> tuple[float, float]:
    """(h0, ratio): a patch of length ``l_min`` gets ``cells_per_l_min`` cells, graded
    geometrically from ``h0 = l_min / (4·cells_per_l_min)`` at each interface."""
    k = max(int(cells_per_l_min) // 2, 2)
    target = INTERFACE_REFINEMENT * k  # (r^k - 1)/(r - 1) = sum of k widths in units of h0
    lo, hi = 1.0 + 1e-12, 4.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (mid**k - 1.0) / (mid - 1.0) < target:
            lo = mid
        else:
            hi = mid
    return l_min / (2.0 * INTERFACE_REFINEMENT * k), 0.5 * (lo + hi)


def build_lattice(
    edges: ArrayLike,
    kappa: ArrayLike,
    *,
    cells_per_l_min: int = 64,
    l_min: float | None = None,
    grading: float | None = None,
) -> Lattice:
    """Finite-volume lattice of one periodic strip given by its ``edges`` and ``kappa``."""
    kap = np.asarray(kappa, dtype=np.float64)
    ell = np.diff(np.asarray(edges, dtype=np.float64))
    if np.any(ell <= 0) or np.any(kap <= 0):
        raise ValueError("patch lengths and kappa must all be positive")
    if l_min is not None:
        lm = float(l_min)
    else:  # the closing (trimmed) last patch of a random strip does not set the resolution
            lm = float(np.min(ell[:-1] if ell.shape[0] >= 3 else ell))
    h0, ratio = grading_for(int(cells_per_l_min), lm) if grading is None else (
        lm / int(cells_per_l_min), float(grading))
    h, pc = patch_cells(ell, h0, ratio)
    kc = kap[pc]
    period = float(np.sum(h))
    h_next, k_next = np.roll(h, -1), np.roll(kc, -1)
    g = 1.0 / (0.5 * h / kc + 0.5 * h_next / k_next)  # face i+1/2
    dist = 0.5 * (h + h_next)
    gd = g * dist
    b = (gd - np.roll(gd, 1)) / h
    diag = (g + np.roll(g, 1)) / h
    off = -g / np.sqrt(h * h_next)
    beta = np.sqrt(h / period) * b
    mean_a = float(2.0 * np.sum(g * dist**2) / period)
    return Lattice(h=h, kappa=kc, diag=diag, off=off, beta=beta, mean_a=mean_a)


def h_t(lam: ArrayLike, t: float) -> FloatArray:
    """``∫₀ᵗ (t−s) e^{−λs} ds`` for λ >= 0, stable at λt → 0 (series) and λ → ∞."""
    x = np.maximum(np.asarray(lam, dtype=np.float64), 0.0) * t
    out = np.empty_like(x)
    small = x < 0.1
    xs = x[small]
    out[small] = (0.5 - xs / 6 + xs**2 / 24 - xs**3 / 120 + xs**4 / 720 - xs**5 / 5040
                  + xs**6 / 40320)
    xl = x[~small]
    out[~small] = (np.expm1(-xl) + xl) / xl**2
    return np.asarray(out * t * t, dtype=np.float64)


def dense_operator(lat: Lattice) -> FloatArray:
    """A = −L_sym as a dense matrix (for ``eigen`` and tests)."""
    n = lat.n_cells
    a = np.diag(lat.diag)
    i = np.arange(n)
    a[i, (i + 1) % n] += lat.off
    a[(i + 1) % n, i] += lat.off
    return a


def msd_eigen(lat: Lattice, times: ArrayLike) -> FloatArray:
    """⟨Δx²⟩(t) by dense symmetric eigendecomposition (small lattices)."""
    t_arr = np.asarray(times, dtype=np.float64)
    lam, vec = np.linalg.eigh(dense_operator(lat))
    w2 = (vec.T @ lat.beta) ** 2
    out = np.array([t * lat.mean_a - 2.0 * np.sum(w2 * h_t(lam, t)) for t in t_arr])
    return np.asarray(out, dtype=np.float64)


def msd_contour(lat: Lattice, times: ArrayLike) -> FloatArray:
    """⟨Δx²⟩(t) by the parabolic-contour inverse Laplace transform (O(N) per node)."""
    t_arr = np.asarray(times, dtype=np.float64)
    m = CONTOUR_NODES
    step = CONTOUR_STEP / m
    u = np.arange(m) * step
    weights = np.ones(m)
    weights[0] = 0.5
    out = np.empty(t_arr.shape[0])
    for j, t in enumerate(t_arr):
        mu = CONTOUR_MU * m / t
        z = mu * (1.0 + 1j * u) ** 2
        dz = 2j * mu * (1.0 + 1j * u)
        forms = resolvent_forms(lat.diag, lat.off, lat.beta, z.astype(np.complex128))
        g = np.exp(z * t) * forms / z**2 * dz
        integral = step / np.pi * float(np.sum(weights * g.imag))
        out[j] = t * lat.mean_a - 2.0 * integral
    return out


def _option(options: Any, name: str, default: Any) -> Any:
    if options is None:
        return default
    if isinstance(options, dict):
        return options.get(name, default)
    return getattr(options, name, default)


def reference_msd(
    medium: Medium,
    times: ArrayLike,
    options: Any = None,
    *,
    cells_per_l_min: int | None = None,
    method: str | None = None,
    l_min: float | None = None,
    grading: float | None = None,
) -> FloatArray:
    """⟨Δx²⟩(t) of the finite-volume lattice of ``medium``, uniform start (VALIDATION item 3).

    Parameters
    ----------
    medium : Medium
        A 1D medium, or a 2D one with κ⊥ = 0 (then the strips' curves are averaged; with
        κ⊥ > 0 the x motion couples strips and no deterministic reference exists).
    times : array_like
        Output times, > 0.
    options : ReferenceOptions or dict, optional
        ``cells_per_l_min`` and ``method`` (keywords override it).
    cells_per_l_min : int, default 64
        Cells across the shortest patch at the finest (interface) resolution ``h0``.
    method : {"auto", "eigen", "contour"}
        ``auto`` = ``eigen`` up to 2000 cells, else ``contour``.
    l_min : float, optional
        Length that sets ``h0`` (default: the shortest patch of the strip).
    grading : float, optional
        Geometric growth ratio of cell widths away from interfaces (1 = uniform cells of
        ``l_min/cells_per_l_min``). Default: :func:`grading_for` — a patch of length ``l_min``
        gets ``cells_per_l_min`` cells, the interface cells 4× finer than uniform.

    Returns
    -------
    ndarray (n_times,)
    """
    cpl = int(cells_per_l_min or _option(options, "cells_per_l_min", 64))
    meth = str(method or _option(options, "method", "auto"))
    if meth not in ("auto", "eigen", "contour"):
        raise ValueError(f"reference method must be 'auto', 'eigen' or 'contour', got {meth!r}")
    t_arr = np.asarray(times, dtype=np.float64)
    if np.any(t_arr <= 0) or not np.all(np.isfinite(t_arr)):
        raise ValueError("reference times must be positive and finite")
    if medium.n_strips > 1 and medium.kappa_perp > 0:
        raise ValueError(
            "the deterministic reference covers 1D media and 2D media with kappa_perp = 0 only; "
            "use a stochastic kernel for kappa_perp > 0"
        )
    total = np.zeros(t_arr.shape[0])
    for s in range(medium.n_strips):
        edges, kap = medium.strip(s)
        lat = build_lattice(edges, kap, cells_per_l_min=cpl, l_min=l_min, grading=grading)
        use = meth
        if use == "auto":
            use = "eigen" if lat.n_cells <= EIGEN_MAX_CELLS else "contour"
        total += msd_eigen(lat, t_arr) if use == "eigen" else msd_contour(lat, t_arr)
    return total / medium.n_strips


def reference_kappa(
    medium: Medium, times: ArrayLike, options: Any = None, **kwargs: Any
) -> FloatArray:
    """Running diffusion coefficient κ̄(t) = ⟨Δx²⟩/(2t) of the lattice (:func:`reference_msd`)."""
    t_arr = np.asarray(times, dtype=np.float64)
    return reference_msd(medium, t_arr, options, **kwargs) / (2.0 * t_arr)
