"""The exact skew-Brownian kernel against exact results and the lattice reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kstats import K, kappa_bar
from numba import njit
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.kernels.exact import interface_step
from patchwalk_worker.media import Medium
from patchwalk_worker.rng import particle_state, task_state


def test_homogeneous_kappa_exact_at_all_times() -> None:
    m = Medium.from_patches([(0.3, 0.7), (1.1, 0.7), (0.6, 0.7)])
    t = np.array([1e-3, 0.05, 1.0, 10.0])
    r = run_exact(m, t, 4000, task_state(0, 0, 0))
    k, e = kappa_bar(r.sums, t)
    assert np.all(np.abs(k - 0.7) < K * e)
    assert r.sums[0, 0] == 4000 and np.all(r.sums[:, 4] == 0.0)


def test_homogeneous_escape_mean_time() -> None:
    kap, ell = 0.5, 1.5
    m = Medium.from_patches([(0.5, kap)])
    r = run_exact(m, [50.0], 4000, task_state(1, 0, 0), escape=(ell,))
    n, s1, s2 = r.esc[0, :3]
    assert n == 4000  # P(τ > 50) ~ e^-50
    mean = s1 / n
    err = math.sqrt((s2 / n - mean**2) / n)
    assert abs(mean - ell**2 / (2 * kap)) < K * err  # crossing times exact within a step


@njit(cache=False)
def skew_fraction(k_minus: float, k_plus: float, t: float, n_steps: int, n: int,
                  task: np.ndarray) -> float:
    """Fraction of ``n`` particles started on an isolated interface (x = 0, κ₋ | κ₊) with
    x_t > 0 after ``n_steps`` equal exact steps. Skew-BM theory: p = √κ₊/(√κ₊+√κ₋) for all t.
    """
    rs = np.empty(4, dtype=np.uint64)
    s_m = math.sqrt(k_minus)
    s_p = math.sqrt(k_plus)
    dt = t / n_steps
    above = 0
    for p in range(n):
        particle_state(task, p, rs)
        x = 0.0
        for _ in range(n_steps):
            if x >= 0.0:  # on the + side: interface to the left
                x, _t, _c = interface_step(x, 0.0, -1, k_plus, s_p, s_m, x / s_p, dt, rs)
            else:
                x, _t, _c = interface_step(x, 0.0, 1, k_minus, s_m, s_p, -x / s_m, dt, rs)
        if x > 0.0:
            above += 1
    return above / n


@pytest.mark.parametrize(("km", "kp"), [(1.0, 100.0), (100.0, 1.0), (0.3, 0.3)])
def test_skew_bm_interface_rule(km: float, kp: float) -> None:
    n = 100_000
    p = math.sqrt(kp) / (math.sqrt(kp) + math.sqrt(km))
    for n_steps in (1, 9):
        f = skew_fraction(km, kp, 1.0, n_steps, n, task_state(2, n_steps, 0))
        assert abs(f - p) < K * math.sqrt(p * (1 - p) / n)
    # the equal-spatial-step rule kp/(kp+km) would be rejected
    if km != kp:
        assert abs(f - kp / (kp + km)) > 10 * math.sqrt(p * (1 - p) / n)


def test_short_time_expansion() -> None:
    # VALIDATION item 2 on κ = 1 | 0.01, lengths 1 | 1 (O(t) is below the noise at t <= 0.02)
    m = Medium.from_patches([(1.0, 1.0), (1.0, 0.01)])
    t = np.array([0.01, 0.02])
    r = run_exact(m, t, 100_000, task_state(3, 0, 0))
    k, e = kappa_bar(r.sums, t)
    c = (1 - 0.1) ** 2 * (1 + 0.1) * 2 / 2.0  # two interfaces, period 2
    theory = m.kappa_A - 4 / (3 * math.sqrt(math.pi)) * c * np.sqrt(t)
    assert np.all(np.abs(k - theory) < K * e + 2e-3)


@pytest.mark.slow
def test_against_reference_early_intermediate_late() -> None:
    from patchwalk_worker.reference import reference_kappa

    m = Medium.from_patches([(1.0, 1.0), (0.5, 0.1), (2.0, 1.0), (0.7, 0.1)])
    t = np.array([0.01, 0.3, 3.0, 30.0])
    r = run_exact(m, t, 3000, task_state(4, 0, 0))
    k, e = kappa_bar(r.sums, t)
    ref = reference_kappa(m, t)
    assert np.all(np.abs(k - ref) < K * e + 0.003 * ref)
    assert abs(k[0] - m.kappa_A) < K * e[0] + 0.05 * m.kappa_A  # early: κ_A
    assert abs(k[-1] - m.kappa_H) < K * e[-1] + 0.05 * m.kappa_H  # late: κ_H


def _two_d(kappa_perp: float) -> Medium:
    strips = [
        (np.array([0.0, 1.0, 1.5, 3.0]), np.array([1.0, 0.05, 1.0])),
        (np.array([0.0, 0.4, 1.9, 3.0]), np.array([0.05, 1.0, 0.05])),
    ]
    return Medium.from_strips(strips, l_perp=0.5, kappa_perp=kappa_perp)


def test_2d_perpendicular_msd_exact() -> None:
    m = _two_d(0.2)
    t = np.array([0.1, 1.0, 5.0])
    r = run_exact(m, t, 3000, task_state(5, 0, 0))
    n = r.sums[:, 0]
    # Δy ~ N(0, 2κ⊥t): ⟨Δy²⟩ has relative standard error √(2/n)
    assert np.all(np.abs(r.sums[:, 4] / n / (2 * 0.2 * t) - 1) < K * math.sqrt(2 / 3000))


def test_2d_zero_kappa_perp_is_1d_average() -> None:
    from patchwalk_worker.reference import reference_kappa

    m = _two_d(0.0)
    t = np.array([0.05, 1.0])
    r = run_exact(m, t, 6000, task_state(6, 0, 0))
    k, e = kappa_bar(r.sums, t)
    assert np.all(np.abs(k - reference_kappa(m, t)) < K * e + 0.003)
    assert np.all(r.sums[:, 4] == 0.0)


def test_2d_fast_perpendicular_gives_kappa_A() -> None:
    # Appendix B1: κ⊥/l⊥² >> κ/l² makes κ̄ → κ_A
    m = _two_d(20.0)
    t = np.array([1.0])
    r = run_exact(m, t, 300, task_state(7, 0, 0))
    k, e = kappa_bar(r.sums, t)
    assert abs(k[0] - m.kappa_A) < K * e[0] + 0.05 * m.kappa_A
    assert k[0] > 2 * m.kappa_H


def test_reproducible_and_bad_arguments() -> None:
    m = Medium.from_patches([(1.0, 1.0), (1.0, 0.1)])
    a = run_exact(m, [0.5, 1.0], 50, task_state(8, 1, 2), escape=(0.5,))
    b = run_exact(m, [0.5, 1.0], 50, task_state(8, 1, 2), escape=(0.5,))
    np.testing.assert_array_equal(a.sums, b.sums)
    np.testing.assert_array_equal(a.esc, b.esc)
    assert a.steps == b.steps > 0
    with pytest.raises(ValueError, match="increasing"):
        run_exact(m, [1.0, 0.5], 10, task_state(0, 0, 0))
    with pytest.raises(ValueError, match="safety"):
        run_exact(m, [1.0], 10, task_state(0, 0, 0), safety=0.5)


# --- exit-time jumps -----------------------------------------------------------------------


def test_exit_time_series_agree_and_invert() -> None:
    from patchwalk_worker.kernels.common import (
        exit_cdf_small,
        exit_survival_large,
        exit_table,
        exit_time_quantile,
    )

    # the image and eigenfunction series are two exact forms of the same law
    for s in np.linspace(0.12, 0.6, 9):
        f_small, d_small = exit_cdf_small(s)
        surv, d_large = exit_survival_large(s)
        assert abs(f_small + surv - 1.0) < 1e-14
        assert abs(d_small - d_large) < 1e-13 * d_large
    tab = exit_table()
    for u in (1e-300, 1e-12, 0.001, 0.3, 0.5, 0.77, 0.999, 1.0 - 2.0**-53):
        s = exit_time_quantile(u, tab)
        if s < 0.3:
            assert abs(exit_cdf_small(s)[0] - u) <= 1e-10 * u  # = 1e-13 in s times dlnF/dlns
        else:
            assert abs(exit_survival_large(s)[0] - (1.0 - u)) <= 1e-10 * (1.0 - u)


def test_exit_time_moments() -> None:
    from patchwalk_worker.kernels.common import exit_table, exit_time_quantile

    # y = √2 W from 0 leaves [-1, 1] at T: E[T] = 1/(2D) = 1/2, E[T²] = 5/12 (D = 1)
    tab = exit_table()
    u = np.random.default_rng(11).random(200_000)
    t = np.array([exit_time_quantile(v, tab) for v in u])
    n = t.size
    assert abs(t.mean() - 0.5) < K * t.std() / math.sqrt(n)
    assert abs((t**2).mean() - 5 / 12) < K * (t**2).std() / math.sqrt(n)
    assert abs(np.mean(t > 1.0) - _survival(1.0)) < K * math.sqrt(0.25 / n)


def _survival(s: float) -> float:
    c = [2 * k + 1 for k in range(20)]
    return 4 / math.pi * sum((-1) ** k / ck * math.exp(-(ck**2) * math.pi**2 * s / 4)
                             for k, ck in enumerate(c))


@pytest.mark.slow
@pytest.mark.parametrize("jumps", [True, False])
def test_short_high_patches_against_reference(jumps: bool) -> None:
    from patchwalk_worker.reference import reference_kappa

    # short fast patches between long slow ones: the case the jumps are for
    m = Medium.from_patches(
        [(0.2, 1.0), (2.0, 1e-3), (0.3, 1.0), (1.5, 1e-3), (0.25, 1.0), (1.0, 1e-3)]
    )
    t = np.array([0.003, 0.1, 3.0, 100.0, 3000.0]) if jumps else np.array([0.003, 0.1, 3.0])
    n = 2000 if jumps else 1000
    r = run_exact(m, t, n, task_state(9, int(jumps), 0), jumps=jumps)
    k, e = kappa_bar(r.sums, t)
    ref = reference_kappa(m, t)
    assert np.all(np.abs(k - ref) < K * e + 0.003 * ref)
    if jumps:
        plain = run_exact(m, t[:4], 20, task_state(9, 2, 0), jumps=False)
        with_jumps = run_exact(m, t[:4], 20, task_state(9, 2, 0))
        assert with_jumps.steps < 0.05 * plain.steps


def test_escape_with_jumps_matches_plain_steps() -> None:
    # first passage |Δx| >= L on a two-phase medium: jumps never straddle a pending level
    m = Medium.from_patches([(0.5, 1.0), (1.0, 0.1)])
    t = np.array([200.0])
    out = []
    for jumps, n in ((True, 3000), (False, 600)):
        r = run_exact(m, t, n, task_state(10, int(jumps), 0), escape=(1.5,), jumps=jumps)
        cnt, s1, s2 = r.esc[0, :3]
        assert cnt == n
        mean = s1 / cnt
        out.append((mean, math.sqrt((s2 / cnt - mean**2) / cnt)))
    (a, ea), (b, eb) = out
    assert abs(a - b) < K * math.hypot(ea, eb)
