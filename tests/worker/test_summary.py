"""Summary math against plain numpy on synthetic per-task sums."""

from __future__ import annotations

import numpy as np
import pytest
from patchwalk_client.spec import load_spec
from patchwalk_worker.escape import escape_summary
from patchwalk_worker.summary import (
    combine_kappa,
    kappa_2d,
    late_window,
    realisations_differ,
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
    # distinct realisations (the default): the t_{K-1} error of the spread, floored at the
    # particle error; the spread governs here (ν = K - 1)
    z975 = 1.959963984540054
    e_b = between * student_t.ppf(0.975, k - 1) / z975
    assert np.all(e_b > particles * student_t.ppf(0.975, 1999) / z975)
    np.testing.assert_array_equal(ks.dof, k - 1)
    np.testing.assert_allclose(ks.kappa_err, e_b / (2 * t), rtol=1e-9)
    assert ks.source == "realisations"
    assert ks.n == 2000
    # one realisation in every task: the particle error of all 2000 particles, ν = N - 1
    one = combine_kappa(_sums_from_samples(dx), t, distinct_realisations=False)
    np.testing.assert_array_equal(one.dof, 1999)
    np.testing.assert_allclose(one.kappa_err, particles * student_t.ppf(0.975, 1999) / z975
                               / (2 * t), rtol=1e-6)
    np.testing.assert_allclose(one.kappa, ks.kappa, rtol=0)
    assert one.source == "particles"


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
    same = combine_kappa(s, t, distinct_realisations=False)
    assert same.kappa_err_between[0] == 0.0
    assert same.kappa_err[0] == pytest.approx(same.kappa_err_particles[0], rel=1e-3)
    assert same.dof[0] == 7999
    # distinct realisations: the t_1 error of the spread (0 here) is floored at the particle
    # error, which then governs (ν = N - 1)
    ks = combine_kappa(s, t)
    assert ks.dof[0] == 7999
    assert ks.kappa_err[0] == same.kappa_err[0]


def test_reference_tasks_use_the_spread_with_k_minus_1_dof() -> None:
    t = np.array([1.0])
    s = np.zeros((4, 1, 5))
    s[:, 0, 0] = 1.0
    s[:, 0, 2] = 2 * np.array([0.6, 0.7, 0.8, 0.75])
    s[:, 0, 3] = np.nan
    ks = combine_kappa(s, t)
    se = np.std([0.6, 0.7, 0.8, 0.75], ddof=1) / 2
    for distinct in (True, False):  # no particle error: the spread, whatever the spec says
        ks = combine_kappa(s, t, distinct)
        assert ks.dof[0] == 3 and ks.source == "realisations"
        assert ks.kappa_err[0] == pytest.approx(
            se * student_t.ppf(0.975, 3) / 1.959963984540054, rel=1e-9)


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
    assert res.dof == 2 and res.kappa_err_particles == 0.0  # ΣΔx⁴ = 0 here
    assert res.kappa_err_between == pytest.approx(slopes.std(ddof=1) / np.sqrt(3), rel=1e-9)
    assert res.kappa_err == pytest.approx(
        res.kappa_err_between * student_t.ppf(0.975, 2) / 1.959963984540054, rel=1e-9)
    assert res.converged
    s[:, :, 2] = 10.0 * np.sqrt(t)  # sub-diffusive: log-slope 1/2
    res = kappa_2d(s, t)
    assert not res.converged
    assert res.log_slope == pytest.approx(0.5, abs=1e-9)


def test_kappa_2d_particle_error_bounds_the_slope() -> None:
    # one realisation: the slope's particle error is (Σ|w_i| σ_i) over the late window
    rng = np.random.default_rng(5)
    t = np.geomspace(1.0, 100.0, 7)
    dx = rng.standard_normal((2, 300, t.size)) * np.sqrt(2 * 0.5 * t)
    s = _sums_from_samples(dx)
    res = kappa_2d(s, t, distinct_realisations=False)
    ks = combine_kappa(s, t, distinct_realisations=False)
    idx = late_window(t)
    xc = t[idx] - t[idx].mean()
    w = xc / np.sum(xc * xc)
    bound = np.sum(np.abs(w) * 2 * t[idx] * ks.kappa_err_particles[idx]) / 2
    assert res.kappa_err_particles == pytest.approx(bound, rel=1e-12)
    assert res.dof == 599
    assert res.kappa_err == pytest.approx(
        bound * student_t.ppf(0.975, 599) / 1.959963984540054, rel=1e-6)
    distinct = kappa_2d(s, t)  # the t_1 error of the spread of two slopes, floored
    z975 = 1.959963984540054
    t1 = distinct.kappa_err_between * student_t.ppf(0.975, 1) / z975
    assert t1 > res.kappa_err and distinct.dof == 1
    assert distinct.kappa_err == pytest.approx(t1, rel=1e-9)


def test_escape_summary_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    taus = [rng.exponential(2.0, size=n) for n in (40, 55)]
    esc = np.array([[[len(x), x.sum(), (x**2).sum()]] for x in taus])
    es = escape_summary(esc, n_particles=100.0, distinct_realisations=False)
    allt = np.concatenate(taus)
    assert es.fraction[0] == pytest.approx(0.95)
    assert es.mean_time[0] == pytest.approx(allt.mean())
    # particle error: within-task variances, Σ c_k v_k / C² (one realisation), ν = C - 1
    vp = sum(x.size * x.var(ddof=1) for x in taus) / allt.size**2
    assert es.mean_time_err_particles[0] == pytest.approx(np.sqrt(vp), rel=1e-12)
    assert es.dof[0] == 94
    assert es.mean_time_err[0] == pytest.approx(
        np.sqrt(vp) * student_t.ppf(0.975, 94) / 1.959963984540054, rel=1e-6)
    assert es.rate[0] == pytest.approx(1 / allt.mean())
    assert es.rate_err[0] == pytest.approx(es.mean_time_err[0] / allt.mean() ** 2)
    # distinct realisations: the t_1 error of V_b, floored at the particle error
    ed = escape_summary(esc, n_particles=100.0)
    m = np.array([x.mean() for x in taus])
    c = np.array([x.size for x in taus], float)
    vb = 2 * np.sum((c * (m - allt.mean())) ** 2) / c.sum() ** 2
    assert ed.mean_time_err_between[0] == pytest.approx(np.sqrt(vb), rel=1e-12)
    z975 = 1.959963984540054
    e_b = np.sqrt(vb) * student_t.ppf(0.975, 1) / z975
    e_p = np.sqrt(vp) * student_t.ppf(0.975, 94) / z975
    assert ed.mean_time_err[0] == pytest.approx(max(e_b, e_p), rel=1e-6)
    assert ed.dof[0] == (1 if e_b >= e_p else 94)


def test_mean_rate_pools_all_particles_and_brackets() -> None:
    """⟨1/τ⟩ over all particles (unescaped = 0), its error by the same rule as the mean time,
    and the upper bound (unescaped = 1/t_max), against numpy on the per-particle values."""
    rng = np.random.default_rng(5)
    n_k, t_max = (60, 40), 3.0
    taus = [rng.exponential(1.5, size=n) for n in n_k]
    esc = np.array([[[np.sum(x < t_max), *(float(np.sum(np.where(x < t_max, x**p, 0.0)))
                                           for p in (1, 2, -1, -2))]] for x in taus])
    xs = [np.where(x < t_max, 1.0 / x, 0.0) for x in taus]  # every particle's 1/τ, 0 if out
    allx = np.concatenate(xs)
    n_out = sum(int(np.sum(x >= t_max)) for x in taus)
    assert 0 < n_out < 100  # some did not escape: the bounds differ
    one = escape_summary(esc, np.array(n_k, float), distinct_realisations=False, t_max=t_max)
    assert one.mean_rate[0] == pytest.approx(allx.mean(), rel=1e-12)
    assert one.mean_rate_upper[0] == pytest.approx(allx.mean() + n_out / (100 * t_max), rel=1e-12)
    assert one.mean_rate[0] < one.mean_rate_upper[0]
    vp = sum(x.size * x.var(ddof=1) for x in xs) / allx.size**2
    z975 = 1.959963984540054
    assert one.mean_rate_dof[0] == 99
    assert one.mean_rate_err[0] == pytest.approx(
        np.sqrt(vp) * student_t.ppf(0.975, 99) / z975, rel=1e-9)
    two = escape_summary(esc, np.array(n_k, float), t_max=t_max)  # distinct realisations
    m = np.array([x.mean() for x in xs])
    w = np.array(n_k, float)
    vb = 2 * np.sum((w * (m - allx.mean())) ** 2) / w.sum() ** 2
    e_b = np.sqrt(vb) * student_t.ppf(0.975, 1) / z975
    e_p = np.sqrt(vp) * student_t.ppf(0.975, 99) / z975
    assert two.mean_rate_err[0] == pytest.approx(max(e_b, e_p), rel=1e-9)
    old = escape_summary(esc[:, :, :3], 100.0)  # a store from before the Σ1/τ columns
    assert np.isnan(old.mean_rate[0]) and old.mean_time[0] == pytest.approx(one.mean_time[0])


def test_escape_summary_skips_tasks_without_escapes() -> None:
    esc = np.array([[[0.0, 0.0, 0.0]], [[3.0, 3.0, 5.0]], [[2.0, 4.0, 10.0]]])
    es = escape_summary(esc, n_particles=30.0)
    assert es.mean_time[0] == pytest.approx(7.0 / 5.0)
    assert np.isfinite(es.mean_time_err_between[0]) and np.isfinite(es.mean_time_err[0])


def test_realisations_differ_follows_the_spec() -> None:
    base = {"particles": {"count": 10, "per_task": 10}, "times": {"min": 0.1, "max": 1.0}}
    pdf = {"pdf": "power_law", "alpha": 2.5, "l_min": 0.5, "l_max": 20.0}
    explicit = load_spec({**base, "medium": {"patches": [[1.0, 1.0], [1.0, 0.1]]}})
    random = load_spec({**base, "medium": {"length": 100.0, "high": {"kappa": 1.0, "patches": pdf},
                                           "low": {"kappa": 0.1, "patches": {"pdf": "same"}}}})
    flat = load_spec({**base, "medium": {"length": 100.0, "high": {"kappa": 0.5, "patches": pdf},
                                         "low": {"kappa": 0.5, "patches": {"pdf": "same"}}}})
    assert not realisations_differ(explicit)
    assert realisations_differ(random)
    assert not realisations_differ(flat)  # every realisation is the same homogeneous medium
