"""Summary math against plain numpy on synthetic per-task sums."""

from __future__ import annotations

import numpy as np
import pytest
from patchwalk_worker.summary import (
    combine_kappa,
    escape_summary,
    kappa_2d,
    late_window,
)
from scipy.stats import t as student_t


def _sums_from_samples(dx: np.ndarray, dy: np.ndarray | None = None) -> np.ndarray:
    """(n_tasks, n_particles, n_times) samples -> (n_tasks, n_times, 5) sums."""
    k, n, m = dx.shape
    s = np.zeros((k, m, 5))
    s[:, :, 0] = n
    s[:, :, 1] = dx.sum(axis=1)
    s[:, :, 2] = (dx**2).sum(axis=1)
    s[:, :, 3] = (dx**4).sum(axis=1)
    if dy is not None:
        s[:, :, 4] = (dy**2).sum(axis=1)
    return s


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.geomspace(0.1, 10.0, 6)
    # each task has its own "medium": a different diffusivity
    kap = rng.uniform(0.5, 1.5, size=4)
    dx = rng.standard_normal((4, 500, 6)) * np.sqrt(2 * kap[:, None, None] * t)
    return dx, t


def test_kappa_and_realisation_stderr_match_numpy(samples: tuple[np.ndarray, np.ndarray]) -> None:
    dx, t = samples
    ks = combine_kappa(_sums_from_samples(dx), t)
    pooled = (dx**2).reshape(-1, t.size).mean(axis=0)
    np.testing.assert_allclose(ks.kappa, pooled / (2 * t), rtol=1e-12)
    per_task = (dx**2).mean(axis=1)  # equal weights: sample std / sqrt(K)
    k = per_task.shape[0]
    between = per_task.std(axis=0, ddof=1) / np.sqrt(k)
    np.testing.assert_allclose(ks.kappa_err_between, between / (2 * t), rtol=1e-10)
    d2 = (dx**2).reshape(-1, t.size)
    within = np.stack([(dx[i] ** 2).var(axis=0, ddof=1) for i in range(k)])
    particles = np.sqrt(within.sum(axis=0) * 500) / d2.shape[0]
    np.testing.assert_allclose(ks.kappa_err_particles, particles / (2 * t), rtol=1e-10)
    # realisation spread dominates: V = V_b, ν = (K-1)(V_b/(V_b - V_p))², widened by t_ν
    vb, vp = between**2, particles**2
    nu = (k - 1) * (vb / (vb - vp)) ** 2
    np.testing.assert_allclose(ks.dof, nu, rtol=1e-12)
    np.testing.assert_allclose(ks.kappa_err, between * student_t.ppf(0.975, nu) / 1.959963984540054
                               / (2 * t), rtol=1e-3)  # t975 rounds ν down to 4 digits
    assert np.all(ks.kappa_err >= np.maximum(ks.kappa_err_between, ks.kappa_err_particles))
    assert ks.source == "realisations"
    assert ks.n == 2000


def test_unequal_task_sizes_weighted_ratio_estimator() -> None:
    rng = np.random.default_rng(3)
    t = np.array([1.0, 2.0])
    sizes = [300, 300, 120]
    tasks = [rng.standard_normal((n, 2)) * (1 + i) for i, n in enumerate(sizes)]
    sums = np.stack([_sums_from_samples(x[None])[0] for x in tasks])
    ks = combine_kappa(sums, t)
    allx = np.concatenate(tasks)
    np.testing.assert_allclose(ks.msd, (allx**2).mean(axis=0), rtol=1e-12)
    n = np.array(sizes, float)[:, None]
    m = np.stack([(x**2).mean(axis=0) for x in tasks])
    var = 3 / 2 * np.sum((n * (m - ks.msd)) ** 2, axis=0) / n.sum() ** 2
    np.testing.assert_allclose(ks.kappa_err_between * 2 * t, np.sqrt(var), rtol=1e-12)
    assert np.all(ks.msd_err >= np.sqrt(var))


def test_single_task_uses_particle_spread(samples: tuple[np.ndarray, np.ndarray]) -> None:
    dx, t = samples
    one = dx[:1]
    ks = combine_kappa(_sums_from_samples(one), t)
    d2 = one[0] ** 2
    expected = d2.std(axis=0, ddof=1) / np.sqrt(d2.shape[0])
    widen = student_t.ppf(0.975, d2.shape[0] - 1) / 1.959963984540054
    np.testing.assert_allclose(ks.kappa_err, expected * widen / (2 * t), rtol=1e-6)
    assert ks.source == "particles"


def test_two_tasks_never_below_the_particle_error() -> None:
    # issue 12: two tasks on one explicit medium happened to agree -> 1-dof spread 19x too small
    rng = np.random.default_rng(1)
    t = np.array([0.01])
    dx = rng.standard_normal((2, 4000, 1)) * np.sqrt(2 * 0.5 * t)
    s = _sums_from_samples(dx)
    s[1, :, 2] = s[0, :, 2]  # identical per-task means: between-task spread exactly 0
    ks = combine_kappa(s, t)
    assert ks.kappa_err_between[0] == 0.0
    assert ks.kappa_err[0] == pytest.approx(ks.kappa_err_particles[0], rel=1e-12)
    assert np.isinf(ks.dof[0])


def test_reference_tasks_use_the_spread_with_k_minus_1_dof() -> None:
    t = np.array([1.0])
    s = np.zeros((4, 1, 5))
    s[:, 0, 0] = 1.0
    s[:, 0, 2] = 2 * np.array([0.6, 0.7, 0.8, 0.75])
    s[:, 0, 3] = np.nan
    ks = combine_kappa(s, t)
    se = np.std([0.6, 0.7, 0.8, 0.75], ddof=1) / 2
    assert ks.dof[0] == 3
    assert ks.kappa_err[0] == pytest.approx(se * student_t.ppf(0.975, 3) / 1.959963984540054,
                                           rel=1e-9)


def test_reference_like_sums_have_nan_particle_error() -> None:
    t = np.array([1.0, 2.0])
    s = np.zeros((1, 2, 5))
    s[:, :, 0] = 1.0
    s[:, :, 2] = 2 * 0.7 * t
    s[:, :, 3] = np.nan
    ks = combine_kappa(s, t)
    np.testing.assert_allclose(ks.kappa, 0.7)
    assert np.all(np.isnan(ks.kappa_err))


def test_shape_mismatch_is_explained() -> None:
    with pytest.raises(ValueError, match="n_tasks"):
        combine_kappa(np.zeros((2, 3, 5)), np.ones(4))


def test_kappa_2d_fit_and_convergence_rule() -> None:
    t = np.geomspace(0.01, 1000, 31)
    idx = late_window(t)
    assert np.all(np.log(t[idx]) >= np.log(t[-1]) - (np.log(t[-1]) - np.log(t[0])) / 3 - 1e-9)
    s = np.zeros((3, t.size, 5))
    s[:, :, 0] = 10.0
    for k, kap in enumerate((0.9, 1.0, 1.1)):
        s[k, :, 2] = 10.0 * (2 * kap * t + 5.0)
    res = kappa_2d(s, t)
    assert res.kappa == pytest.approx(1.0, rel=1e-10)
    slopes = np.array([0.9, 1.0, 1.1])
    assert res.kappa_err == pytest.approx(slopes.std(ddof=1) / np.sqrt(3), rel=1e-9)
    assert res.converged
    s[:, :, 2] = 10.0 * np.sqrt(t)  # sub-diffusive: log-slope 1/2
    res = kappa_2d(s, t)
    assert not res.converged
    assert res.log_slope == pytest.approx(0.5, abs=1e-9)


def test_escape_summary_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    taus = [rng.exponential(2.0, size=n) for n in (40, 55)]
    esc = np.array([[[len(x), x.sum(), (x**2).sum()]] for x in taus])
    es = escape_summary(esc, n_particles=100.0)
    allt = np.concatenate(taus)
    assert es.fraction[0] == pytest.approx(0.95)
    assert es.mean_time[0] == pytest.approx(allt.mean())
    assert es.mean_time_err[0] == pytest.approx(allt.std(ddof=1) / np.sqrt(allt.size))
    assert es.rate[0] == pytest.approx(1 / allt.mean())
