"""Coverage of the summaries' error bars: |z| ≤ 2 about 95 % of the time for 2, 4 and 16 tasks.

Three regimes (docs/kernels.md, "Error bars from few tasks"), each at fixed seeds:
* A — one explicit medium in every task (``distinct_realisations=False``): exact-kernel tasks,
  z against the lattice reference of that medium (issue 12's two-task case: the 1-dof spread
  alone covered 65-77 %);
* B — realisation spread only: every task is the lattice reference (the ``reference`` kernel's
  sums) of its own random realisation, z against the mean over the other realisations;
* C — both: exact-kernel tasks of 100 particles, each on its own random realisation (particle
  and realisation noise comparable), z against the mean over the other realisations' tasks
  (independent of the group; its own noise adds ≤ 4 % to the variance of z). The previous rule
  (Welch–Satterthwaite ν from the data) covered ≈ 80 % at K = 2 here.
Bands: [0.90, 0.995] — the binomial σ of the coverage over the groups is ≤ 1.5 %.
"""

from __future__ import annotations

import numpy as np
import pytest
from patchwalk_worker.escape import escape_summary
from patchwalk_worker.first_passage import mean_first_passage
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.media import Medium, generate_strip
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.reference import reference_msd
from patchwalk_worker.rng import task_state
from patchwalk_worker.student import Z975, t975
from patchwalk_worker.summary import combine_kappa, kappa_2d, late_window

KS = (2, 4, 16)
BAND = (0.90, 0.995)


def coverage(z: list[np.ndarray]) -> float:
    return float(np.mean(np.abs(np.array(z)) <= 2.0))


def realisation(i: int) -> Medium:
    pdf = PowerLaw(2.5, 0.2, 2.0)
    e, k = generate_strip(pdf, pdf, 1.0, 0.1, 6.0, np.random.default_rng([99, i]))
    return Medium.from_patches(list(zip(np.diff(e), k, strict=True)))


def partitions(n_pool: int, k: int, n_part: int, seed: int) -> list[np.ndarray]:
    """Groups of k pool indices from ``n_part`` random partitions of the pool."""
    rng = np.random.default_rng([seed, k])
    out = []
    for _ in range(n_part):
        perm = rng.permutation(n_pool)
        out += [perm[g * k:(g + 1) * k] for g in range(n_pool // k)]
    return out


@pytest.mark.slow
def test_one_explicit_medium_coverage() -> None:
    m = Medium.from_patches([(1.0, 1.0), (1.0, 0.01)])
    t = np.array([0.01, 0.1, 1.0])
    ref = reference_msd(m, t) / (2 * t)
    for k, groups in zip(KS, (150, 100, 40), strict=True):
        z, z_spread = [], []
        for g in range(groups):
            sums = np.stack([run_exact(m, t, 100, task_state(1000 + g, k, i)).sums
                             for i in range(k)])
            ks = combine_kappa(sums, t, distinct_realisations=False)
            np.testing.assert_array_equal(ks.dof, 100 * k - 1)
            assert ks.source == "particles"
            z.append((ks.kappa - ref) / ks.kappa_err)
            z_spread.append((ks.kappa - ref) / ks.kappa_err_between)
        cov = coverage(z)
        assert BAND[0] <= cov <= BAND[1], (k, cov)
        if k == 2:  # the between-task spread alone (the error before issue 12) does not cover
            assert coverage(z_spread) < 0.85


@pytest.mark.slow
def test_realisation_spread_coverage() -> None:
    t = np.array([0.1, 1.0])
    n_pool = 600  # the contour method: no dense eigh (slow with threaded BLAS on 2 cores)
    pool = np.array([reference_msd(realisation(i), t, cells_per_l_min=4, method="contour")
                     for i in range(n_pool)])
    for k in KS:
        z = []
        for idx in partitions(n_pool, k, 5, 3):
            sums = np.zeros((k, t.size, 5))
            sums[:, :, 0] = 1.0
            sums[:, :, 2] = pool[idx]
            sums[:, :, 3] = np.nan  # the reference kernel's sums
            ks = combine_kappa(sums, t)
            np.testing.assert_array_equal(ks.dof, k - 1)
            rest = np.delete(pool, idx, axis=0).mean(axis=0)  # independent of the group
            z.append((ks.msd - rest) / ks.msd_err)
        cov = coverage(z)
        assert BAND[0] <= cov <= BAND[1], (k, cov)


def _welch_err(err_p: np.ndarray, err_b: np.ndarray, k: int) -> np.ndarray:
    """The previous rule: V = max(V_b, V_p), ν = (K − 1)(V/V_r)² from the data."""
    vp, vb = err_p**2, err_b**2
    vr = np.maximum(vb - vp, 0.0)
    var = vp + vr
    nu = [(k - 1) * (v / r) ** 2 if r > 0 else np.inf for v, r in zip(var, vr, strict=True)]
    return np.sqrt(var) * np.array([t975(v) / Z975 if np.isfinite(v) else 1.0 for v in nu])


@pytest.mark.slow
def test_particles_and_realisations_coverage() -> None:
    t = np.array([0.1, 1.0])
    n_pool = 400
    sums = np.stack([run_exact(realisation(10_000 + i), t, 100, task_state(21, 0, i)).sums
                     for i in range(n_pool)])
    per_task = sums[:, :, 2] / sums[:, :, 0] / (2 * t)
    for k in KS:
        z, z_welch = [], []
        for idx in partitions(n_pool, k, 5, 4):
            ks = combine_kappa(sums[idx], t, distinct_realisations=True)
            assert np.all(np.isin(ks.dof, [k - 1, 100 * k - 1]))  # spread or particle floor
            assert np.all(ks.kappa_err >= ks.kappa_err_particles)
            d = ks.kappa - np.delete(per_task, idx, axis=0).mean(axis=0)
            z.append(d / ks.kappa_err)
            z_welch.append(d / _welch_err(ks.kappa_err_particles, ks.kappa_err_between, k))
        cov = coverage(z)
        assert BAND[0] <= cov <= BAND[1], (k, cov)
        if k == 2:  # ν from the data cannot tell V_r = 0 from V_r ≈ V_p with one dof
            assert coverage(z_welch) < 0.9


@pytest.mark.slow
def test_kappa_2d_slope_coverage_one_medium() -> None:
    # κ̄_2D's error on one explicit medium: the particle bound (Σ|w_i|σ_i)², ν = N - 1; the
    # bound is 1.4-1.7x the true σ here (docs/kernels.md), so it over-covers
    m = Medium.from_patches([(1.0, 1.0), (1.0, 0.1)])
    t = np.geomspace(0.2, 20.0, 7)
    idx = late_window(t)
    xc = t[idx] - t[idx].mean()
    exact = float(np.sum(xc / np.sum(xc * xc) * reference_msd(m, t)[idx])) / 2
    for k, groups in zip(KS, (80, 40, 15), strict=True):
        z = []
        for g in range(groups):
            sums = np.stack([run_exact(m, t, 50, task_state(3000 + g, k, i)).sums
                             for i in range(k)])
            r = kappa_2d(sums, t, distinct_realisations=False)
            assert r.dof == 50 * k - 1
            z.append(np.array([(r.kappa - exact) / r.kappa_err]))
        cov = coverage(z)
        assert 0.95 <= cov <= 1.0, (k, cov)


@pytest.mark.slow
def test_escape_time_coverage_own_realisations() -> None:
    # mean escape times of tasks on their own realisations against the ensemble ⟨τ⟩ (the mean
    # of the other realisations' exact values); the particle error alone does not cover
    dist = np.array([0.2, 0.5])
    n_pool, n = 240, 30
    esc = np.stack([run_exact(realisation(20_000 + i), [15.0], n, task_state(22, 0, i),
                              escape=dist).esc for i in range(n_pool)])
    exact = np.array([mean_first_passage(realisation(20_000 + i), dist)[:, 0]
                      for i in range(n_pool)])
    assert np.all(esc[:, :, 0] == n)  # every particle escaped
    for k in KS:
        z, z_p = [], []
        for idx in partitions(n_pool, k, 5, 5):
            es = escape_summary(esc[idx], float(k * n))
            d = es.mean_time - np.delete(exact, idx, axis=0).mean(axis=0)
            z.append(d / es.mean_time_err)
            z_p.append(d / es.mean_time_err_particles)
        cov = coverage(z)
        assert BAND[0] <= cov <= BAND[1], (k, cov)
        if k == 16:  # the error before (particles only) misses the realisation spread
            assert coverage(z_p) < 0.9 and float(np.mean(np.square(z_p))) > 1.4
