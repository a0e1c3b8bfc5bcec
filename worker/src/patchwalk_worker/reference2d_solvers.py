"""Numba solver of the 2D reference: complex block-cyclic-tridiagonal resolvent forms.

With cells ordered column by column, A = −L_sym of :mod:`patchwalk_worker.reference2d` is
block-cyclic-tridiagonal in x: column ``i`` (an R-vector over the rows) couples to itself by
the (R × R) block ``D_i`` (the diagonal plus the cyclic tridiagonal y-coupling) and to column
``i+1`` by the diagonal block ``E_i = diag(off_x[:, i])``. For each contour node z the form
``βᵀ(zI + A)⁻¹β`` is found by block Gaussian elimination that keeps column 0 as a parameter:
columns 1..N−1 form an open block-tridiagonal chain whose solution is affine in X_0,
``X_i = p_i + Q_i X_0``; the equation of column 0 then gives X_0 (one R × R solve). Cost
≈ 3 N R³ complex operations per node, memory N R² (the chain's inverse pivots).

Also here: the contour drivers ``msd_2d_block`` and ``msd_2d_splu`` (scipy SuperLU, checks
only) and the CSR/CSC matrix of A; the Lanczos solver is
:mod:`patchwalk_worker.reference2d_lanczos`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray

from patchwalk_worker.reference import CONTOUR_MU, CONTOUR_NODES, CONTOUR_STEP

if TYPE_CHECKING:
    from patchwalk_worker.reference2d import Lattice2D

FloatArray = NDArray[np.float64]


@nb.njit(cache=True)
def _invert(a: np.ndarray, out: np.ndarray, work: np.ndarray) -> None:  # pragma: no cover
    """``out = a⁻¹`` for a small complex matrix: Gauss–Jordan with partial pivoting.

    Plain loops (no BLAS): deterministic and unaffected by BLAS threading on a busy machine.
    ``work`` is an (n, 2n) complex scratch array; ``a`` is left unchanged.
    """
    n = a.shape[0]
    for r in range(n):
        for c in range(n):
            work[r, c] = a[r, c]
            work[r, n + c] = 1.0 if r == c else 0.0
    for col in range(n):
        piv = col
        best = abs(work[col, col])
        for r in range(col + 1, n):
            v = abs(work[r, col])
            if v > best:
                best = v
                piv = r
        if piv != col:
            for c in range(2 * n):
                tmp = work[col, c]
                work[col, c] = work[piv, c]
                work[piv, c] = tmp
        inv = 1.0 / work[col, col]
        for c in range(col, 2 * n):
            work[col, c] *= inv
        for r in range(n):
            if r != col:
                f = work[r, col]
                if f != 0.0:
                    for c in range(col, 2 * n):
                        work[r, c] -= f * work[col, c]
    for r in range(n):
        for c in range(n):
            out[r, c] = work[r, n + c]


@nb.njit(cache=True)
def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out = a @ b`` with plain loops."""
    n, kk = a.shape
    m = b.shape[1]
    for r in range(n):
        for c in range(m):
            out[r, c] = 0.0
        for q in range(kk):
            f = a[r, q]
            if f != 0.0:
                for c in range(m):
                    out[r, c] += f * b[q, c]


@nb.njit(cache=True)
def block_resolvent_forms(
    diag: np.ndarray, off_x: np.ndarray, off_y: np.ndarray, beta: np.ndarray, z: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    """``βᵀ (z_k I + A)⁻¹ β`` for each node ``z_k``.

    Parameters
    ----------
    diag, off_x, off_y : float64 (R, N)
        Parts of A (see ``Lattice2D.symmetric_parts``): ``off_x[r, i]`` couples (r, i) and
        (r, i+1 mod N), ``off_y[r, i]`` couples (r, i) and (r+1 mod R, i).
    beta : float64 (R, N)
    z : complex128 (K,)

    Returns
    -------
    complex128 (K,)
    """
    n_r, n = diag.shape
    nz = z.shape[0]
    res = np.empty(nz, dtype=np.complex128)
    m = n_r + 1  # right-hand sides: the vector part and the X_0 coefficients
    sinv = np.empty((n, n_r, n_r), dtype=np.complex128)
    rhs = np.empty((n, n_r, m), dtype=np.complex128)
    blk = np.empty((n_r, n_r), dtype=np.complex128)
    work = np.empty((n_r, 2 * n_r), dtype=np.complex128)
    tmp = np.empty((n_r, m), dtype=np.complex128)
    w = np.empty((n_r, m), dtype=np.complex128)
    xn = np.empty((n_r, m), dtype=np.complex128)
    x1 = np.empty((n_r, m), dtype=np.complex128)
    inv0 = np.empty((n_r, n_r), dtype=np.complex128)
    for k in range(nz):
        zk = z[k]
        # forward sweep over columns 1..n-1
        for i in range(1, n):
            for r in range(n_r):
                for c in range(n_r):
                    blk[r, c] = 0.0
            for r in range(n_r):
                blk[r, r] = zk + diag[r, i]
                if n_r > 1:
                    r2 = (r + 1) % n_r
                    blk[r, r2] += off_y[r, i]
                    blk[r2, r] += off_y[r, i]
            for r in range(n_r):
                for c in range(m):
                    rhs[i, r, c] = 0.0
                rhs[i, r, 0] = beta[r, i]
            if i == 1:
                for r in range(n_r):
                    rhs[i, r, 1 + r] -= off_x[r, 0]
            if i == n - 1:
                for r in range(n_r):
                    rhs[i, r, 1 + r] -= off_x[r, n - 1]
            if i > 1:
                e = off_x[:, i - 1]
                prev = sinv[i - 1]
                for r in range(n_r):
                    for c in range(n_r):
                        blk[r, c] -= e[r] * prev[r, c] * e[c]
                # rhs_i -= E S⁻¹ rhs_{i-1}
                _matmul(prev, rhs[i - 1], tmp)
                for r in range(n_r):
                    for c in range(m):
                        rhs[i, r, c] -= e[r] * tmp[r, c]
            _invert(blk, sinv[i], work)
        # back substitution: X_i = S_i⁻¹ (rhs_i − E_i X_{i+1}); accumulate βᵀX_i
        acc = np.zeros(m, dtype=np.complex128)
        _matmul(sinv[n - 1], rhs[n - 1], xn)
        x1[:, :] = xn
        for r in range(n_r):
            for c in range(m):
                acc[c] += beta[r, n - 1] * xn[r, c]
        for i in range(n - 2, 0, -1):
            e = off_x[:, i]
            for r in range(n_r):
                for c in range(m):
                    w[r, c] = rhs[i, r, c] - e[r] * x1[r, c]
            _matmul(sinv[i], w, x1)
            for r in range(n_r):
                for c in range(m):
                    acc[c] += beta[r, i] * x1[r, c]
        # column 0: (D_0 + E_0 Q_1 + E_{n-1} Q_{n-1}) X_0 = β_0 − E_0 p_1 − E_{n-1} p_{n-1}
        for r in range(n_r):
            for c in range(n_r):
                blk[r, c] = 0.0
        for r in range(n_r):
            blk[r, r] = zk + diag[r, 0]
            if n_r > 1:
                r2 = (r + 1) % n_r
                blk[r, r2] += off_y[r, 0]
                blk[r2, r] += off_y[r, 0]
        b0 = np.empty(n_r, dtype=np.complex128)
        e0 = off_x[:, 0]
        en = off_x[:, n - 1]
        for r in range(n_r):
            b0[r] = beta[r, 0] - e0[r] * x1[r, 0] - en[r] * xn[r, 0]
            for c in range(n_r):
                blk[r, c] += e0[r] * x1[r, 1 + c] + en[r] * xn[r, 1 + c]
        _invert(blk, inv0, work)
        x0 = np.zeros(n_r, dtype=np.complex128)
        for r in range(n_r):
            for c in range(n_r):
                x0[r] += inv0[r, c] * b0[c]
        form = acc[0]
        for c in range(n_r):
            form += acc[1 + c] * x0[c]
        for r in range(n_r):
            form += beta[r, 0] * x0[r]
        res[k] = form
    return res


def sparse_operator(lat: Lattice2D) -> Any:
    """A = −L_sym as a scipy.sparse CSR matrix, cells ordered row-major (r·N_x + i)."""
    from scipy import sparse

    diag, off_x, off_y = lat.symmetric_parts()
    n_r, n_x = diag.shape
    idx = np.arange(n_r * n_x).reshape(n_r, n_x)
    right = np.roll(idx, -1, axis=1)
    up = np.roll(idx, -1, axis=0)
    rows = [idx.ravel(), idx.ravel(), right.ravel(), idx.ravel(), up.ravel()]
    cols = [idx.ravel(), right.ravel(), idx.ravel(), up.ravel(), idx.ravel()]
    vals = [diag.ravel(), off_x.ravel(), off_x.ravel(), off_y.ravel(), off_y.ravel()]
    mask = [np.ones(n_r * n_x, bool)] * 3 + [np.full(n_r * n_x, n_r > 1)] * 2
    a = sparse.coo_matrix(
        (np.concatenate([v[m] for v, m in zip(vals, mask, strict=True)]),
         (np.concatenate([r[m] for r, m in zip(rows, mask, strict=True)]),
          np.concatenate([c[m] for c, m in zip(cols, mask, strict=True)]))),
        shape=(n_r * n_x, n_r * n_x),
    )
    return a.tocsc()


def contour_nodes(t: float) -> tuple[NDArray[np.complex128], NDArray[np.complex128], float]:
    """Nodes z, weights w·dz and the step of the parabolic contour for time ``t``."""
    m = CONTOUR_NODES
    step = CONTOUR_STEP / m
    u = np.arange(m) * step
    mu = CONTOUR_MU * m / t
    z = mu * (1.0 + 1j * u) ** 2
    dz = 2j * mu * (1.0 + 1j * u)
    w = np.ones(m)
    w[0] = 0.5
    return z.astype(np.complex128), (w * dz).astype(np.complex128), step


def msd_2d_splu(lat: Lattice2D, times: ArrayLike) -> FloatArray:
    """⟨Δx²⟩(t) by the contour with one scipy SuperLU factorisation per node."""
    from scipy import sparse
    from scipy.sparse.linalg import splu

    t_arr = np.asarray(times, dtype=np.float64)
    a = sparse_operator(lat).astype(np.complex128)
    eye = sparse.identity(a.shape[0], dtype=np.complex128, format="csc")
    beta = lat.beta.ravel().astype(np.complex128)
    out = np.empty(t_arr.shape[0])
    for j, t in enumerate(t_arr):
        z, wdz, step = contour_nodes(float(t))
        forms = np.empty(z.shape[0], dtype=np.complex128)
        for k in range(z.shape[0]):
            lu = splu((a + z[k] * eye).tocsc(), permc_spec="COLAMD")
            forms[k] = beta @ lu.solve(beta)
        g = np.exp(z * t) * forms / z**2 * wdz
        out[j] = t * lat.mean_a - 2.0 * step / np.pi * float(np.sum(g.imag))
    return out


def msd_2d_block(lat: Lattice2D, times: ArrayLike) -> FloatArray:
    """⟨Δx²⟩(t) by the contour with the numba block-cyclic-tridiagonal solver."""
    t_arr = np.asarray(times, dtype=np.float64)
    diag, off_x, off_y = lat.symmetric_parts()
    beta = np.ascontiguousarray(lat.beta)
    out = np.empty(t_arr.shape[0])
    for j, t in enumerate(t_arr):
        z, wdz, step = contour_nodes(float(t))
        forms = block_resolvent_forms(diag, off_x, off_y, beta, z)
        g = np.exp(z * t) * forms / z**2 * wdz
        out[j] = t * lat.mean_a - 2.0 * step / np.pi * float(np.sum(g.imag))
    return out
