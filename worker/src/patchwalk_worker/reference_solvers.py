"""Numba helpers of the deterministic reference: complex cyclic tridiagonal resolvent solves.

The symmetrised lattice operator A = −L_sym (see :mod:`patchwalk_worker.reference`) is real,
symmetric, positive semi-definite and cyclic tridiagonal. The contour solver needs the
bilinear form ``βᵀ (z I + A)⁻¹ β`` at a few complex ``z`` off the negative real axis; each is
one O(N) cyclic Thomas solve (Sherman–Morrison on the two corner entries).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _thomas2(sub: np.ndarray, diag: np.ndarray, sup: np.ndarray, r1: np.ndarray,
             r2: np.ndarray, cp: np.ndarray, x1: np.ndarray,
             x2: np.ndarray) -> None:  # pragma: no cover - numba
    """Solve a complex tridiagonal system for two right-hand sides, no pivoting.

    ``r2`` is zero except at its first and last entries (the Sherman–Morrison vector), which
    the forward sweep exploits. ``cp`` is workspace.
    """
    n = diag.shape[0]
    inv = 1.0 / diag[0]
    cp[0] = sup[0] * inv
    x1[0] = r1[0] * inv
    x2[0] = r2[0] * inv
    for i in range(1, n):
        inv = 1.0 / (diag[i] - sub[i] * cp[i - 1])
        cp[i] = sup[i] * inv
        x1[i] = (r1[i] - sub[i] * x1[i - 1]) * inv
        x2[i] = (r2[i] - sub[i] * x2[i - 1]) * inv
    for i in range(n - 2, -1, -1):
        x1[i] -= cp[i] * x1[i + 1]
        x2[i] -= cp[i] * x2[i + 1]


@nb.njit(cache=True)
def cyclic_solve(d: np.ndarray, e: np.ndarray, z: complex,
                 r: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Solve (zI + A) x = r for the cyclic tridiagonal A (diagonal ``d``, ``e[i]`` coupling i and
    i+1, ``e[N−1]`` coupling N−1 and 0); complex ``z`` off (−∞, 0]."""
    n = d.shape[0]
    sub = np.zeros(n, dtype=np.complex128)
    sup = np.zeros(n, dtype=np.complex128)
    diag = np.empty(n, dtype=np.complex128)
    rhs = np.empty(n, dtype=np.complex128)
    u = np.zeros(n, dtype=np.complex128)
    cp = np.empty(n, dtype=np.complex128)
    x = np.empty(n, dtype=np.complex128)
    y = np.empty(n, dtype=np.complex128)
    corner = e[n - 1]
    for i in range(n):
        if i > 0:
            sub[i] = e[i - 1]
        if i < n - 1:
            sup[i] = e[i]
        diag[i] = z + d[i]
        rhs[i] = r[i]
    gamma = -diag[0]
    diag[0] = diag[0] - gamma
    diag[n - 1] = diag[n - 1] - corner * corner / gamma
    u[0] = gamma
    u[n - 1] = corner
    _thomas2(sub, diag, sup, rhs, u, cp, x, y)
    # Sherman–Morrison with v = (1, 0, …, 0, corner/γ)
    fact = (x[0] + corner * x[n - 1] / gamma) / (1.0 + y[0] + corner * y[n - 1] / gamma)
    for i in range(n):
        x[i] -= fact * y[i]
    return x


@nb.njit(cache=True)
def resolvent_forms(
    d: np.ndarray, e: np.ndarray, beta: np.ndarray, z: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    """``βᵀ (z_k I + A)⁻¹ β`` for each node ``z_k``.

    Parameters
    ----------
    d : float64 (N,)
        Diagonal of A.
    e : float64 (N,)
        ``e[i]`` couples cells ``i`` and ``i+1``; ``e[N-1]`` couples ``N-1`` and ``0`` (cyclic).
    beta : float64 (N,)
        Symmetrised jump drift.
    z : complex128 (K,)
        Shifts, off (−∞, 0].

    Returns
    -------
    complex128 (K,)
    """
    nz = z.shape[0]
    res = np.empty(nz, dtype=np.complex128)
    for k in range(nz):
        x = cyclic_solve(d, e, z[k], beta)
        acc = 0.0 + 0.0j
        for i in range(d.shape[0]):
            acc += beta[i] * x[i]
        res[k] = acc
    return res
