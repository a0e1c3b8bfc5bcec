"""Lanczos (Gauss-quadrature) solver of the 2D reference: βᵀh_t(A)β for all times at once.

A = −L_sym of :mod:`patchwalk_worker.reference2d` is symmetric positive semi-definite, sparse
(5-point, periodic in x and y) and its null space is the constant density, ``u₀ ∝ π^{1/2}``;
the symmetrised x-drift β = π^{1/2}b is orthogonal to it (Σπb = 0, VALIDATION item 3).
m steps of the Lanczos recurrence started at q₁ = β/‖β‖ give the tridiagonal T_m (diagonal
α_j, off-diagonal b_j) and the m-point Gauss quadrature of the spectral measure of β
(Golub & Meurant, *Matrices, Moments and Quadrature*, 2010):

    βᵀ f(A) β ≈ ‖β‖² e₁ᵀ f(T_m) e₁,

exact for polynomials f of degree ≤ 2m − 1. Here f = h_t, the Green–Kubo kernel of Appendix B
(``h_t(λ) = t/λ − (1 − e^{−λt})/λ²``), and e₁ᵀh_t(T_m)e₁ is evaluated with the same parabolic
contour as the direct solvers (:data:`~patchwalk_worker.reference.CONTOUR_NODES` nodes per
time; the 1D reference's scalar error ≤ 2e-11), each node being ``e₁ᵀ(z + T_m)⁻¹e₁`` by a
backward continued fraction in O(m) — so the Krylov space is built once for every output
time. Quadratic forms need no reorthogonalisation (loss of orthogonality only delays
convergence, Greenbaum–Strakoš); the tiny component along u₀ that rounding creates is
projected out at every step. Iterations needed grow like √(λ_max·t) (a polynomial of degree m
carries information m cells), saturating at √(λ_max/λ_gap) once t passes the mixing time.

The matrix-vector product is a fused numba stencil on the (rows × columns) arrays of
``Lattice2D.symmetric_parts``; nothing is allocated inside the loop and the loops are serial,
so the result is bitwise reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from patchwalk_worker.reference2d import Lattice2D

FloatArray = NDArray[np.float64]


@nb.njit(cache=True)
def lanczos_steps(
    diag: np.ndarray, off_x: np.ndarray, off_y: np.ndarray, u0: np.ndarray,
    vecs: np.ndarray, slots: np.ndarray, alpha: np.ndarray, b_off: np.ndarray,
    start: int, stop: int,
) -> int:  # pragma: no cover - numba
    """Lanczos steps ``start .. stop−1`` on A (in place); returns the steps completed.

    Parameters
    ----------
    diag, off_x : float64 (R, N)
        Diagonal of A and the x-coupling of (r, i) with (r, i+1 mod N).
    off_y : float64 (R,)
        y-coupling of row r with row r+1 mod R (the same in every column).
    u0 : float64 (R, N)
        Unit null vector π^{1/2}; projected out of every new Lanczos vector.
    vecs : float64 (3, R, N)
        The current and previous Lanczos vectors and a scratch vector, in the slots named by
        ``slots`` (int64 (3,): current, previous, scratch), which rotate from step to step
        (no copies); both are updated in place for the next call.
    alpha, b_off : float64 (m_max,)
        T_m's diagonal and off-diagonal; ``b_off[j]`` couples steps j and j+1, and
        ``b_off[start − 1]`` (0 if ``start = 0``) is read as the previous coupling.

    Returns
    -------
    int
        ``stop``, or the step after which the recurrence broke down (‖w‖ = 0: the Krylov
        space is invariant and the quadrature exact).
    """
    n_r, n = diag.shape
    b_prev = b_off[start - 1] if start > 0 else 0.0
    for j in range(start, stop):
        q = vecs[slots[0]]
        q_prev = vecs[slots[1]]
        w = vecs[slots[2]]
        a = 0.0
        uw = 0.0
        uq = 0.0
        for r in range(n_r):
            up = r + 1 if r + 1 < n_r else 0
            dn = r - 1 if r > 0 else n_r - 1
            oy_up = off_y[r]
            oy_dn = off_y[dn]
            for i in range(n):
                ip = i + 1 if i + 1 < n else 0
                im = i - 1 if i > 0 else n - 1
                qi = q[r, i]
                v = (diag[r, i] * qi + off_x[r, i] * q[r, ip] + off_x[r, im] * q[r, im]
                     + oy_up * q[up, i] + oy_dn * q[dn, i] - b_prev * q_prev[r, i])
                w[r, i] = v
                a += v * qi
                uw += u0[r, i] * v
                uq += u0[r, i] * qi
        c = uw - a * uq  # u₀·(w − a q): the null component rounding has let in
        nrm = 0.0
        for r in range(n_r):
            for i in range(n):
                v = w[r, i] - a * q[r, i] - c * u0[r, i]
                w[r, i] = v
                nrm += v * v
        b = np.sqrt(nrm)
        alpha[j] = a
        b_off[j] = b
        if b == 0.0:
            return j + 1
        inv = 1.0 / b
        for r in range(n_r):
            for i in range(n):
                w[r, i] *= inv
        cur = slots[0]
        slots[0] = slots[2]
        slots[2] = slots[1]
        slots[1] = cur
        b_prev = b
    return stop


@nb.njit(cache=True)
def tridiagonal_forms(alpha: np.ndarray, b_off: np.ndarray, m: int,
                      z: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """``e₁ᵀ(z_k I + T_m)⁻¹e₁`` for each node by the backward continued fraction.

    For Im z > 0 every trailing Schur complement has Im ≥ Im z, and for real z > 0 it is
    positive (T_m is positive semi-definite), so the recursion never divides by ~0.
    """
    out = np.empty(z.shape[0], dtype=np.complex128)
    for k in range(z.shape[0]):
        d = z[k] + alpha[m - 1]
        for j in range(m - 2, -1, -1):
            d = z[k] + alpha[j] - b_off[j] * b_off[j] / d
        out[k] = 1.0 / d
    return out


#: Stop when no output time's ⟨Δx²⟩ changed by more than this (relative) between two checks.
LANCZOS_RTOL = 1e-10
#: Hard cap on Lanczos steps (the run raises, naming the fields to change, if it is reached).
LANCZOS_MAX_STEPS = 400_000
#: Checks after 32 steps, then every time the step count has grown by this factor.
CHECK_GROWTH = 1.2
#: Steps ≈ LANCZOS_STEP_FACTOR·√(λ_max·t_eff) (measured, docs/reference.md; an upper estimate).
LANCZOS_STEP_FACTOR = 2.5
#: float64 arrays of N cells the solver holds (A's diagonal, x-coupling and off_y copy, u₀, β,
#: three Lanczos vectors), besides the lattice itself.
LANCZOS_ARRAYS = 8


@dataclass(frozen=True)
class LanczosResult:
    """⟨Δx²⟩(t) from :func:`lanczos_msd_2d` and how it was reached.

    Attributes
    ----------
    msd : ndarray (n_times,)
    steps : int
        Lanczos steps taken (matrix-vector products).
    change : float
        Largest relative change of ⟨Δx²⟩ between the last two checks (0 on breakdown).
    """

    msd: FloatArray
    steps: int
    change: float


def null_vector(lat: Lattice2D) -> FloatArray:
    """Unit vector u₀ ∝ π^{1/2} = √(h_x h_y) spanning the null space of A, (R, N)."""
    u0 = np.sqrt(lat.hy[:, None] * lat.hx[None, :])
    return np.asarray(u0 / np.linalg.norm(u0), dtype=np.float64)


def spectral_bounds(lat: Lattice2D) -> tuple[float, float]:
    """(λ_max upper bound by Gershgorin, λ_gap estimate) of A.

    λ_gap is the smaller of the slowest x-mode of the most resistive conceivable column,
    κ_min(2π/P)², and the slowest y-mode κ⊥(2π/H)² (P, H the periods); it only caps the
    step estimate of :func:`lanczos_step_estimate` at late times.
    """
    diag, off_x, off_y = lat.symmetric_parts()
    row = (diag + np.abs(off_x) + np.abs(np.roll(off_x, 1, axis=1)) + np.abs(off_y)
           + np.abs(np.roll(off_y, 1, axis=0)))
    period, height = float(np.sum(lat.hx)), float(np.sum(lat.hy))
    gap_x = float(np.min(lat.kappa)) * (2.0 * np.pi / period) ** 2
    k_perp = float(lat.gy[0] * 0.5 * (lat.hy[0] + lat.hy[1 % lat.hy.shape[0]]))  # gy = κ⊥/d
    gap = min(gap_x, k_perp * (2.0 * np.pi / height) ** 2) if k_perp > 0 else gap_x
    return float(np.max(row)), gap


def lanczos_step_estimate(lat: Lattice2D, t_max: float) -> int:
    """Expected Lanczos steps for output times up to ``t_max``: ≈ √(λ_max·min(t, 1/λ_gap))."""
    lam_max, gap = spectral_bounds(lat)
    t_eff = min(float(t_max), 1.0 / gap)
    return int(np.ceil(LANCZOS_STEP_FACTOR * np.sqrt(lam_max * t_eff))) + 32


def lanczos_msd_2d(
    lat: Lattice2D, times: ArrayLike, *, rtol: float = LANCZOS_RTOL,
    max_steps: int = LANCZOS_MAX_STEPS,
) -> LanczosResult:
    """⟨Δx²⟩(t) = t⟨a⟩ − 2βᵀh_t(A)β (Appendix B, VALIDATION item 3) by Lanczos quadrature.

    Parameters
    ----------
    lat : Lattice2D
        The 2D finite-volume lattice (:func:`~patchwalk_worker.reference2d.build_lattice_2d`).
    times : array_like
        Output times, > 0; one Krylov space serves all of them.
    rtol : float
        Stop when ⟨Δx²⟩ changed by at most ``rtol`` (relative) at every time between two
        checks (checks at 32 steps and then every factor :data:`CHECK_GROWTH`).
    max_steps : int
        Raise ValueError if not converged after this many steps.

    Returns
    -------
    LanczosResult
    """
    from patchwalk_worker.reference2d_solvers import contour_nodes

    t_arr = np.asarray(times, dtype=np.float64)
    diag, off_x, off_y_full = lat.symmetric_parts()
    off_y = np.ascontiguousarray(off_y_full[:, 0])
    u0 = null_vector(lat)
    beta = lat.beta - float(np.sum(u0 * lat.beta)) * u0
    norm_b = float(np.linalg.norm(beta))
    if norm_b == 0.0:  # homogeneous medium: no drift, ⟨Δx²⟩ = t⟨a⟩
        return LanczosResult(msd=t_arr * lat.mean_a, steps=0, change=0.0)
    nodes = [contour_nodes(float(t)) for t in t_arr]
    z_all = np.concatenate([z for z, _, _ in nodes])
    n_z = nodes[0][0].shape[0]
    vecs = np.zeros((3,) + beta.shape)
    vecs[0] = beta / norm_b
    slots = np.arange(3, dtype=np.int64)
    alpha = np.zeros(max_steps)
    b_off = np.zeros(max_steps)

    def msd_of(m: int) -> FloatArray:
        forms = tridiagonal_forms(alpha, b_off, m, z_all)
        out = np.empty(t_arr.shape[0])
        for j, (z, wdz, step) in enumerate(nodes):
            g = np.exp(z * t_arr[j]) * forms[j * n_z:(j + 1) * n_z] / z**2 * wdz
            quad = norm_b**2 * step / np.pi * float(np.sum(g.imag))
            out[j] = t_arr[j] * lat.mean_a - 2.0 * quad
        return out

    done, target = 0, 32
    prev: FloatArray | None = None
    while True:
        stop = min(target, max_steps)
        done = int(lanczos_steps(diag, off_x, off_y, u0, vecs, slots, alpha, b_off,
                                 done, stop))
        msd = msd_of(done)
        if done < stop:  # breakdown: the Krylov space is invariant, the quadrature exact
            return LanczosResult(msd=msd, steps=done, change=0.0)
        if prev is not None:
            change = float(np.max(np.abs(msd - prev) / np.abs(msd)))
            if change <= rtol:
                return LanczosResult(msd=msd, steps=done, change=change)
            if done >= max_steps:
                raise ValueError(
                    f"the 2D reference (Lanczos) did not converge in {done} steps (relative "
                    f"change {change:.1e} > {rtol:.0e}): lower times.max, medium.strips or "
                    "reference.cells_per_l_min (the steps grow as sqrt(t_max) / finest cell)")
        prev = msd
        target = max(done + 16, int(done * CHECK_GROWTH))
