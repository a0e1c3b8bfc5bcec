"""First-passage times of the 2D ``exact`` kernel (κ⊥ > 0) against deterministic values.

Two media where ⟨τ⟩ is known exactly:

* identical strips: y does not matter, so the 1D deterministic ⟨τ⟩, ⟨τ²⟩ of the strip
  (``first_passage.mean_first_passage``) are exact in 2D;
* strips of constant κ_s, different per strip: x = W(2Θ(t)) with the clock Θ(t) = ∫κ dt
  independent of W, so τ = Θ⁻¹(θ_L) with θ_L the exit time of W from [−L, L]. In clock time
  y is a diffusion with generator (κ⊥/κ(y))∂², self-adjoint in L²(κ dy) with eigenpairs
  (λ_n, φ_n), and with y uniform at the start

      ⟨τ⟩ = ∫₀^∞ P(θ_L > θ) E[1/κ(y(θ))] dθ = Σ_n w_n (1 − sech(L√λ_n))/λ_n,
      w_n = (∫φ_n dy)² / (H ∫φ_n² κ dy),                                         (E2D)

  (E e^{−λθ_L} = sech(L√λ)); λ₀ = 0 gives L²/(2κ_A), the fast-y limit, and κ⊥ → 0 gives
  L²⟨1/κ_s⟩/2. The eigenpairs come from a finite-volume y-grid (Richardson-extrapolated).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from kstats import K, kappa_bar
from numba import njit
from patchwalk_worker.first_passage import mean_first_passage
from patchwalk_worker.kernels import KernelResult, run_exact
from patchwalk_worker.kernels.bridge import first_passage_bridge
from patchwalk_worker.media import Medium
from patchwalk_worker.reference import reference_kappa
from patchwalk_worker.rng import particle_state, task_state
from scipy.integrate import quad


def mfpt_constant_strips(kappas: Sequence[float], l_perp: float, kappa_perp: float,
                         distances: Sequence[float], cells: int = 200) -> np.ndarray:
    """(E2D) on a grid of ``cells`` finite volumes per strip (error O(h²))."""
    k = np.repeat(np.asarray(kappas, dtype=float), cells)
    n = k.size
    h = l_perp / cells
    lap = 2.0 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    lap[0, -1] = lap[-1, 0] = -1.0  # periodic in y
    mi = 1.0 / np.sqrt(k * h)  # M^(-1/2), M = diag(κ h)
    lam, v = np.linalg.eigh(kappa_perp / h * lap * mi[:, None] * mi[None, :])
    lam = np.maximum(lam, 0.0)
    w = (h * (v * mi[:, None]).sum(axis=0)) ** 2 / (n * h)
    out = []
    for dist in distances:
        z = dist * np.sqrt(lam)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (1.0 - 2.0 * np.exp(-z) / (1.0 + np.exp(-2.0 * z))) / lam
        f = np.where(z * z < 1e-8, 0.5 * dist * dist, f)
        out.append(float(w @ f))
    return np.array(out)


def mfpt_reference(kappas: Sequence[float], l_perp: float, kappa_perp: float,
                   distances: Sequence[float], cells: int = 100) -> np.ndarray:
    """(E2D), Richardson-extrapolated from ``cells`` and 2·``cells`` cells per strip."""
    c = mfpt_constant_strips(kappas, l_perp, kappa_perp, distances, cells)
    f = mfpt_constant_strips(kappas, l_perp, kappa_perp, distances, 2 * cells)
    return f + (f - c) / 3.0


def constant_strips(kappas: Sequence[float], l_perp: float, kappa_perp: float,
                    period: float) -> Medium:
    """Strips of one patch each (x-period ``period``), κ_s per strip."""
    return Medium.from_strips([(np.array([0.0, period]), np.array([k])) for k in kappas],
                              l_perp=l_perp, kappa_perp=kappa_perp)


def check_mean(r: KernelResult, ref: np.ndarray, n: int) -> None:
    """Every particle escaped; ⟨τ⟩ within 1% + Kσ of ``ref``."""
    c, s1, s2 = r.esc[:, :3].T
    assert np.all(c == n)
    mean = s1 / c
    err = np.sqrt((s2 / c - mean**2) / c)
    assert np.all(np.abs(mean - ref) < 0.01 * ref + K * err), (mean, ref, err)


def check_kappa_a(r: KernelResult, m: Medium, t: float) -> None:
    """Constant strips from a uniform y: ⟨Δx²⟩ = 2E Θ(t) = 2κ_A t exactly, so κ̄ = κ_A at
    every t, also after the particles restarted from the levels."""
    k, e = kappa_bar(r.sums, np.array([t]))
    assert abs(k[0] - m.kappa_A) < 0.01 * m.kappa_A + K * e[0], (k, m.kappa_A, e)


def test_reference_limits_and_grid() -> None:
    """(E2D) reaches both exact limits, and its grid error is far below the tolerance."""
    kap, dist = [1.0, 0.1, 0.4], [0.05, 1.0, 3.0]
    d2 = 0.5 * np.asarray(dist) ** 2
    slow = mfpt_constant_strips(kap, 1.0, 1e-9, dist, 100)  # y frozen: ⟨L²/(2κ_s)⟩
    np.testing.assert_allclose(slow, d2 * np.mean(1.0 / np.asarray(kap)), rtol=1e-4)
    fast = mfpt_constant_strips(kap, 0.01, 1e3, dist, 100)  # y mixed: L²/(2κ_A)
    np.testing.assert_allclose(fast, d2 / np.mean(kap), rtol=1e-4)
    for kperp in (0.002, 0.2):  # grid error (measured 3e-4 at most) ≪ the 1 % tolerance
        np.testing.assert_allclose(mfpt_reference(kap, 1.0, kperp, dist),
                                   mfpt_reference(kap, 1.0, kperp, dist, 150), rtol=1e-3)


@njit(cache=True)
def _bridge_points(z0: float, hit: float, u: float, n: int, task: np.ndarray) -> np.ndarray:
    rs = np.empty(4, dtype=np.uint64)
    out = np.empty(n)
    for i in range(n):
        particle_state(task, i, rs)
        out[i] = first_passage_bridge(z0, hit, u, 2.0, rs)
    return out


@pytest.mark.parametrize(("z0", "hit", "u"), [(0.5, 1.0, 0.3), (0.2, 0.5, 0.45),
                                              (1.0, 3.0, 2.0), (0.3, math.inf, 0.4)])
def test_first_passage_bridge_law(z0: float, hit: float, u: float) -> None:
    """y(u) given the first hitting time: density ∝ killed density × hitting density from y
    (unit diffusivity), Kolmogorov–Smirnov on a grid of quantiles."""

    def killed(y: float) -> float:
        return math.exp(-(y - z0) ** 2 / (4 * u)) - math.exp(-(y + z0) ** 2 / (4 * u))

    def dens(y: float) -> float:
        if math.isinf(hit):  # conditioned never to hit: h-transform with h(y) = y
            return y * killed(y)
        s = hit - u
        return killed(y) * y * math.exp(-y * y / (4 * s))

    norm = quad(dens, 0, math.inf, limit=200)[0]
    n = 20_000
    x = np.sort(_bridge_points(z0, hit, u, n, task_state(41, 0, 0)))
    assert np.all(x > 0)
    grid = np.quantile(x, np.linspace(0.05, 0.95, 10))
    cdf = np.array([quad(dens, 0, g, limit=200)[0] / norm for g in grid])
    emp = np.searchsorted(x, grid, side="right") / n
    assert np.max(np.abs(emp - cdf)) < 2.0 / math.sqrt(n)


def test_unreachable_levels_leave_the_streams_alone() -> None:
    """Pending levels that are never near change nothing: bitwise the sums of a run without
    escape (the kernel draws nothing extra and steps the same while no level is close)."""
    two = (np.array([0.0, 1.0, 1.5]), np.array([1.0, 0.1]))
    other = (np.array([0.0, 0.4, 1.5]), np.array([0.2, 1.0]))
    m = Medium.from_strips([two, other], l_perp=0.3, kappa_perp=0.05)
    t = [0.5, 5.0]
    a = run_exact(m, t, 300, task_state(42, 0, 0))
    b = run_exact(m, t, 300, task_state(42, 0, 0), escape=(1e9,))
    np.testing.assert_array_equal(a.sums, b.sums)
    assert a.steps == b.steps
    assert b.esc[0, 0] == 0


@pytest.mark.slow
def test_identical_strips_match_the_1d_first_passage() -> None:
    """Identical two-phase strips: the 1D ⟨τ⟩ and ⟨τ²⟩ are exact; L from ≪ l_min to two
    periods. κ̄ at the end (after the particles restarted from the levels) is the 1D one."""
    two = (np.array([0.0, 1.0, 1.5]), np.array([1.0, 0.25]))
    m = Medium.from_strips([two] * 3, l_perp=0.3, kappa_perp=0.05)
    dist = np.array([0.01, 0.5, 1.0, 3.0])
    ref = mean_first_passage(Medium.from_patches([(1.0, 1.0), (0.5, 0.25)]), dist)
    n = 600
    t = np.array([12.0 * ref[-1, 0]])
    r = run_exact(m, t, n, task_state(43, 0, 0), escape=dist)
    check_mean(r, ref[:, 0], n)
    c, _s1, s2 = r.esc[:, :3].T
    m2 = s2 / c
    assert np.all(np.abs(m2 - ref[:, 1]) < 0.02 * ref[:, 1] + K * np.sqrt(4 * m2 * m2 / c))
    k, e = kappa_bar(r.sums, t)
    k1 = reference_kappa(Medium.from_patches([(1.0, 1.0), (0.5, 0.25)]), t)
    assert np.all(np.abs(k - k1) < 0.01 * k1 + K * e), (k, k1, e)


@pytest.mark.slow
def test_constant_strips_across_the_y_mixing_time() -> None:
    """Strips of κ = 1 | 0.1 | 0.4 and slow y (τ⊥ = l⊥²/κ⊥ = 500): L²/κ from ≪ τ⊥ (each
    particle sees its own strip) to ~ τ⊥ (y mixes during the escape)."""
    kap, l_perp, kperp = [1.0, 0.1, 0.4], 1.0, 0.002
    dist = np.array([0.05, 1.0, 3.0])
    ref = mfpt_reference(kap, l_perp, kperp, dist)
    n = 800
    # x-period 1 (< L): the equal-κ patch edges and their corners with strip edges are in play
    m = constant_strips(kap, l_perp, kperp, 1.0)
    r = run_exact(m, [8.0 * 4.5 / 0.1], n, task_state(44, 0, 0), escape=dist)
    check_mean(r, ref, n)
    check_kappa_a(r, m, 8.0 * 4.5 / 0.1)


@pytest.mark.slow
def test_constant_strips_fast_y() -> None:
    """κ = 1 | 0.1, τ⊥ = 5: L = 0.05 escapes in one strip, L = 3 with y mixed (≈ L²/(2κ_A));
    the three references are far apart, so a kernel that froze or averaged y would fail."""
    kap, l_perp, kperp = [1.0, 0.1], 0.5, 0.05
    dist = np.array([0.05, 1.0, 3.0])
    ref = mfpt_reference(kap, l_perp, kperp, dist)
    n = 800
    # x-period 100: only y limits the steps (the cost is the y-mixing)
    m = constant_strips(kap, l_perp, kperp, 100.0)
    r = run_exact(m, [12.0 * ref[-1]], n, task_state(45, 0, 0), escape=dist)
    check_mean(r, ref, n)
    check_kappa_a(r, m, 12.0 * ref[-1])
    frozen = 0.5 * dist**2 * np.mean(1.0 / np.asarray(kap))
    mixed = 0.5 * dist**2 / np.mean(kap)
    assert abs(ref[-1] - frozen[-1]) > 0.3 * ref[-1]
    assert abs(ref[0] - mixed[0]) > 0.3 * ref[0]
