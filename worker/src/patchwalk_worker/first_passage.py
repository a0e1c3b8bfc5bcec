"""Deterministic mean first-passage time and its second moment on a 1D piecewise-constant medium.

The escape time of Section 3.2 (eq. 8) is the first time τ with |x(τ) − x₀| ≥ L. For a start
x₀ the moments T(x) = E_x τ and T₂(x) = E_x τ² of the process of eq. (1) on the window
(A, B) = (x₀ − L, x₀ + L) solve the backward equations

    (κ T′)′ = −1,      (κ T₂′)′ = −2 T,      T = T₂ = 0 at A and B,          (FP1)

with T, κT′, T₂, κT₂′ continuous at the interfaces (the flux form of eq. 1; Appendix B's
operator ∂ₓκ∂ₓ). With F = κT′ and F₂ = κT₂′ the state y = (1, F, T, F₂, T₂) obeys y′ = N(x) y,

    F′ = −1,  T′ = F/κ,  F₂′ = −2T,  T₂′ = F₂/κ,                              (FP2)

and N is constant and nilpotent inside a patch, so the propagator over a length l of one patch
is the exact polynomial E(κ, l) = exp(N l) (``_patch_prop``). The propagator over a window is
the ordered product of patch propagators; the two unknown fluxes F(A), F₂(A) follow from
T(B) = T₂(B) = 0 (two scalar equations), and (T, T₂)(x₀) from the propagator A → x₀.
Homogeneous check: T(x₀) = L²/(2κ), T₂(x₀) = 5L⁴/(12κ²) (the exit time of unit-diffusivity
BM from [−1, 1] has E T = 1/2, E T² = 5/12).

The uniform-start averages ⟨τ⟩ = (1/P)∫₀ᴾ T dx₀ and ⟨τ²⟩ are integrated piece by piece between
the break points (interfaces and interfaces ± L, modulo the period P; the medium is unrolled
periodically, so L ≫ P works). On a piece the integrands are rational in x₀ with poles only
where ∫_A^B dx/κ (linear in x₀) vanishes; pieces are split geometrically so that each
sub-piece is at most half its distance from that pole and integrated by 8-point Gauss–Legendre
(error ≲ 1e-15 relative). Window products come from a segment tree of patch propagators and
binary powers of the period propagator: no prefix sums, so no cancellation for L ≪ P.
Cost: O(N log N) per distance for N patches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np

from .media import Medium

#: Gauss–Legendre order per sub-piece.
GL_ORDER = 8
#: Largest ratio of ∫_A^B dx/κ between the two ends of one sub-piece.
POLE_RATIO = 1.5


@nb.njit(cache=True)
def _patch_prop(c: float, ell: float, out: np.ndarray) -> None:  # pragma: no cover - numba
    """exp(N ell) of (FP2) for one patch with 1/κ = ``c`` (state order 1, F, T, F₂, T₂)."""
    out[:, :] = 0.0
    for i in range(5):
        out[i, i] = 1.0
    out[1, 0] = -ell
    out[2, 1] = c * ell
    out[2, 0] = -0.5 * c * ell * ell
    out[3, 2] = -2.0 * ell
    out[3, 1] = -c * ell * ell
    out[3, 0] = c * ell * ell * ell / 3.0
    out[4, 3] = c * ell
    out[4, 2] = -c * ell * ell
    out[4, 1] = -c * c * ell * ell * ell / 3.0
    out[4, 0] = c * c * ell * ell * ell * ell / 12.0


@nb.njit(cache=True)
def _mul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - numba
    """out = a @ b for lower-triangular 5×5 matrices (``out`` may not alias a or b)."""
    for i in range(5):
        for j in range(5):
            s = 0.0
            for k in range(j, i + 1):
                s += a[i, k] * b[k, j]
            out[i, j] = s


@nb.njit(cache=True)
def _build_tree(edges: np.ndarray, kappa: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Bottom-up segment tree of patch propagators; node i = right child @ left child."""
    n = kappa.shape[0]
    tree = np.zeros((2 * n, 5, 5))
    for k in range(n):
        _patch_prop(1.0 / kappa[k], edges[k + 1] - edges[k], tree[n + k])
    for i in range(n - 1, 0, -1):
        _mul(tree[2 * i + 1], tree[2 * i], tree[i])
    return tree


@nb.njit(cache=True)
def _query(tree: np.ndarray, p: int, q: int, out: np.ndarray,
           w1: np.ndarray) -> None:  # pragma: no cover - numba
    """Propagator over patches p..q−1 (0 ≤ p ≤ q ≤ n): E_{q−1} ⋯ E_p."""
    n = tree.shape[0] // 2
    left = np.eye(5)
    right = np.eye(5)
    lo = p + n
    hi = q + n
    while lo < hi:
        if lo & 1:
            _mul(tree[lo], left, w1)
            left[:, :] = w1
            lo += 1
        if hi & 1:
            hi -= 1
            _mul(right, tree[hi], w1)
            right[:, :] = w1
        lo >>= 1
        hi >>= 1
    _mul(right, left, out)


@nb.njit(cache=True)
def _power(m: np.ndarray, k: int, out: np.ndarray) -> None:  # pragma: no cover - numba
    """out = m^k (k ≥ 0) by binary powering."""
    res = np.eye(5)
    base = m.copy()
    w = np.empty((5, 5))
    while k > 0:
        if k & 1:
            _mul(base, res, w)
            res[:, :] = w
        _mul(base, base, w)
        base[:, :] = w
        k >>= 1
    out[:, :] = res


@nb.njit(cache=True)
def _range(tree: np.ndarray, full: np.ndarray, i: int, j: int,
           out: np.ndarray) -> None:  # pragma: no cover - numba
    """Propagator between unrolled edges i ≤ j (patches i..j−1 of the periodic medium)."""
    n = tree.shape[0] // 2
    qi, ri = i // n, i % n
    qj, rj = j // n, j % n
    w1 = np.empty((5, 5))
    if qi == qj:
        _query(tree, ri, rj, out, w1)
        return
    a = np.empty((5, 5))
    b = np.empty((5, 5))
    pw = np.empty((5, 5))
    _query(tree, ri, n, a, w1)
    _power(full, qj - qi - 1, pw)
    _mul(pw, a, b)
    _query(tree, 0, rj, a, w1)
    _mul(a, b, out)


@nb.njit(cache=True)
def _locate(edges: np.ndarray, period: float, z: float) -> int:  # pragma: no cover - numba
    """Unrolled index k of the patch holding z: e(k) ≤ z < e(k+1)."""
    n = edges.shape[0] - 1
    q = int(np.floor(z / period))
    r = z - q * period
    k = int(np.searchsorted(edges, r, side="right")) - 1
    k = min(max(k, 0), n - 1)
    return int(q * n + k)


@nb.njit(cache=True)
def _edge(edges: np.ndarray, period: float, k: int) -> float:  # pragma: no cover - numba
    """Position of unrolled edge k."""
    n = edges.shape[0] - 1
    return float(edges[k % n] + (k // n) * period)


@nb.njit(cache=True)
def _span(edges: np.ndarray, kappa: np.ndarray, period: float, tree: np.ndarray,
          full: np.ndarray, ka: int, kb: int, za: float, zb: float, mid: np.ndarray,
          out: np.ndarray) -> None:  # pragma: no cover - numba
    """Propagator from za (unrolled patch ka) to zb (patch kb ≥ ka); ``mid``: patches ka+1..kb−1."""
    n = kappa.shape[0]
    if ka == kb:
        _patch_prop(1.0 / kappa[ka % n], zb - za, out)
        return
    e1 = np.empty((5, 5))
    e2 = np.empty((5, 5))
    w = np.empty((5, 5))
    _patch_prop(1.0 / kappa[ka % n], _edge(edges, period, ka + 1) - za, e1)
    _patch_prop(1.0 / kappa[kb % n], zb - _edge(edges, period, kb), e2)
    _mul(mid, e1, w)
    _mul(e2, w, out)


@nb.njit(cache=True)
def _moments_at(edges: np.ndarray, kappa: np.ndarray, period: float, tree: np.ndarray,
                full: np.ndarray, ka: int, k0: int, kb: int, m1: np.ndarray, m2: np.ndarray,
                x0: float, dist: float, out: np.ndarray) -> float:  # pragma: no cover - numba
    """(T, T₂)(x₀) into ``out``; returns ∫_A^B dx/κ. Patch indices and window products given."""
    pa = np.empty((5, 5))
    pb = np.empty((5, 5))
    pab = np.empty((5, 5))
    _span(edges, kappa, period, tree, full, ka, k0, x0 - dist, x0, m1, pa)
    _span(edges, kappa, period, tree, full, k0, kb, x0, x0 + dist, m2, pb)
    _mul(pb, pa, pab)
    r = pab[2, 1]
    fa = -pab[2, 0] / r  # T(B) = 0
    f2a = -(pab[4, 0] + pab[4, 1] * fa) / pab[4, 3]  # T₂(B) = 0
    out[0] = pa[2, 0] + pa[2, 1] * fa
    out[1] = pa[4, 0] + pa[4, 1] * fa + pa[4, 3] * f2a
    return float(r)


@nb.njit(cache=True)
def _window_products(edges: np.ndarray, kappa: np.ndarray, period: float, tree: np.ndarray,
                     full: np.ndarray, ka: int, k0: int, kb: int, m1: np.ndarray,
                     m2: np.ndarray) -> None:  # pragma: no cover - numba
    """Whole-patch products between A's and x₀'s patches (m1) and x₀'s and B's (m2)."""
    if k0 > ka:
        _range(tree, full, ka + 1, k0, m1)
    if kb > k0:
        _range(tree, full, k0 + 1, kb, m2)


@nb.njit(cache=True)
def _average(edges: np.ndarray, kappa: np.ndarray, dist: float, breaks: np.ndarray,
             gx: np.ndarray, gw: np.ndarray,
             pole_ratio: float) -> tuple[float, float]:  # pragma: no cover - numba
    """∫₀ᴾ (T, T₂) dx₀ / P over the pieces between sorted ``breaks``."""
    period = edges[-1]
    tree = _build_tree(edges, kappa)
    n = kappa.shape[0]
    full = np.empty((5, 5))
    w1 = np.empty((5, 5))
    _query(tree, 0, n, full, w1)
    m1 = np.empty((5, 5))
    m2 = np.empty((5, 5))
    val = np.empty(2)
    s1 = 0.0
    s2 = 0.0
    for p in range(breaks.shape[0] - 1):
        ua = breaks[p]
        ub = breaks[p + 1]
        if not ub > ua:
            continue
        um = 0.5 * (ua + ub)
        ka = _locate(edges, period, um - dist)
        k0 = _locate(edges, period, um)
        kb = _locate(edges, period, um + dist)
        _window_products(edges, kappa, period, tree, full, ka, k0, kb, m1, m2)
        ra = _moments_at(edges, kappa, period, tree, full, ka, k0, kb, m1, m2, ua, dist, val)
        rb = _moments_at(edges, kappa, period, tree, full, ka, k0, kb, m1, m2, ub, dist, val)
        # ∫_A^B dx/κ is linear on the piece: split so that each sub-piece spans a ratio ≤ pole_ratio
        lo = min(ra, rb)
        hi = max(ra, rb)
        n_sub = 1
        if hi > pole_ratio * lo:
            n_sub = int(np.ceil(np.log(hi / lo) / np.log(pole_ratio)))
        prev = ua
        for i in range(1, n_sub + 1):
            nxt = ub
            if i < n_sub:  # ∫dx/κ geometric from ra to rb, linear in x₀
                rr = ra * (rb / ra) ** (i / n_sub)
                nxt = ua + (rr - ra) / (rb - ra) * (ub - ua)
            h = 0.5 * (nxt - prev)
            c = 0.5 * (nxt + prev)
            for g in range(gx.shape[0]):
                _moments_at(edges, kappa, period, tree, full, ka, k0, kb, m1, m2,
                            c + h * gx[g], dist, val)
                s1 += gw[g] * h * val[0]
                s2 += gw[g] * h * val[1]
            prev = nxt
    return s1 / period, s2 / period


def _break_points(edges: np.ndarray, dist: float) -> np.ndarray:
    """Sorted x₀ in [0, P] where x₀, x₀ − L or x₀ + L crosses an edge."""
    period = float(edges[-1])
    e = edges[:-1]
    pts = np.concatenate([e, np.mod(e - dist, period), np.mod(e + dist, period), [0.0, period]])
    pts = np.unique(np.clip(pts, 0.0, period))
    keep = np.concatenate([[True], np.diff(pts) > 1e-13 * period])
    return np.asarray(pts[keep], dtype=np.float64)


def _strips(medium: Medium) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 1D strips whose uniform-start averages make up the medium's."""
    if medium.n_strips > 1 and medium.kappa_perp > 0.0:
        raise ValueError(
            "mean_first_passage is for 1D motion: kappa_perp must be 0 (got "
            f"{medium.kappa_perp}); use a 1D medium or kappa_perp = 0"
        )
    out = []
    for s in range(medium.n_strips):
        e, k = medium.strip(s)
        out.append((np.ascontiguousarray(e, dtype=np.float64) - float(e[0]),
                    np.ascontiguousarray(k, dtype=np.float64)))
    return out


def _check_distances(distances: Sequence[float] | np.ndarray) -> np.ndarray:
    d = np.ascontiguousarray(distances, dtype=np.float64).reshape(-1)
    if d.size and (not np.all(np.isfinite(d)) or np.any(d <= 0.0)):
        raise ValueError("escape distances must be positive and finite, e.g. distances=(1.0,)")
    return d


def mean_first_passage(medium: Medium, distances: Sequence[float] | np.ndarray) -> np.ndarray:
    """Exact ⟨τ⟩ and ⟨τ²⟩ of the first passage |Δx| ≥ L from a uniform start (FP1).

    Parameters
    ----------
    medium : Medium
        A 1D periodic medium (or stacked strips with κ⊥ = 0, averaged over the strips).
    distances : sequence of float
        Escape distances L > 0 (any size relative to the patches and the period).

    Returns
    -------
    ndarray, shape (n_dist, 2)
        Column 0: ⟨τ⟩ = (1/P)∫T(x₀)dx₀; column 1: ⟨τ²⟩ = (1/P)∫T₂(x₀)dx₀, both solutions of
        (FP1) averaged by Gauss–Legendre quadrature between the break points. The escape
        rate of eq. (8) is 1/⟨τ⟩; Var τ = ⟨τ²⟩ − ⟨τ⟩².

    Raises
    ------
    ValueError
        If a distance is not positive and finite, or κ⊥ > 0.
    """
    d = _check_distances(distances)
    strips = _strips(medium)
    gx, gw = np.polynomial.legendre.leggauss(GL_ORDER)
    out = np.zeros((d.size, 2))
    for j, dist in enumerate(d):
        for e, k in strips:
            m1, m2 = _average(e, k, float(dist), _break_points(e, float(dist)), gx, gw,
                              POLE_RATIO)
            out[j, 0] += m1 / len(strips)
            out[j, 1] += m2 / len(strips)
    return out


@nb.njit(cache=True)
def _pointwise(edges: np.ndarray, kappa: np.ndarray, x0: np.ndarray, dist: float,
               out: np.ndarray) -> None:  # pragma: no cover - numba
    period = edges[-1]
    tree = _build_tree(edges, kappa)
    n = kappa.shape[0]
    full = np.empty((5, 5))
    w1 = np.empty((5, 5))
    _query(tree, 0, n, full, w1)
    m1 = np.empty((5, 5))
    m2 = np.empty((5, 5))
    for i in range(x0.shape[0]):
        ka = _locate(edges, period, x0[i] - dist)
        k0 = _locate(edges, period, x0[i])
        kb = _locate(edges, period, x0[i] + dist)
        _window_products(edges, kappa, period, tree, full, ka, k0, kb, m1, m2)
        _moments_at(edges, kappa, period, tree, full, ka, k0, kb, m1, m2, x0[i], dist, out[i])


def first_passage_moments(medium: Medium, x0: Sequence[float] | np.ndarray,
                          distance: float) -> np.ndarray:
    """T(x₀) and T₂(x₀) of (FP1) for given starts on a 1D medium (strip 0).

    Parameters
    ----------
    medium : Medium
        1D medium (only its first strip is used).
    x0 : sequence of float
        Start positions (any real numbers; the medium is periodic).
    distance : float
        Escape distance L > 0.

    Returns
    -------
    ndarray, shape (n, 2)
        E τ and E τ² for each start.
    """
    d = _check_distances([distance])
    e, k = _strips(medium)[0]
    xs = np.ascontiguousarray(x0, dtype=np.float64).reshape(-1)
    out = np.zeros((xs.size, 2))
    _pointwise(e, k, xs, float(d[0]), out)
    return out
