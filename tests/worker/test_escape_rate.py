"""The mean escape rate ⟨1/τ⟩ and ``escape.stop`` against exact theory (fixed seeds, k·σ).

Yardstick: the first passage of |Δx| past L in a homogeneous medium (diffusivity κ) is the exit
of Brownian motion from (−L, L) started at its centre. Its Laplace transform is
E e^{−sτ} = 1/cosh(L√(s/κ)), so ⟨1/τ⟩ = ∫₀^∞ E e^{−sτ} ds; its density has two exact series,

    f(t) = L/√(πκt³) Σ_k (−1)^k (2k+1) exp(−(2k+1)²L²/(4κt))          (images)
         = (πκ/L²) Σ_n (−1)^n (2n+1) exp(−(2n+1)²π²κt/(4L²))          (eigenfunctions),

so the estimators at a finite t_max have exact expectations too: E[1/τ; τ ≤ t_max] (the
``mean_rate``, unescaped particles counted 0) and that plus P(τ > t_max)/t_max
(``mean_rate_upper``). The two routes to ⟨1/τ⟩ (Laplace, series) are checked against each
other and against the closed form 4Gκ/L² (G Catalan's constant).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from patchwalk_client.spec import parse_spec
from patchwalk_worker.escape import escape_summary
from patchwalk_worker.execute import execute_task
from patchwalk_worker.kernels import run_euler, run_exact, run_pitch
from patchwalk_worker.kernels.streaming import run_streaming
from patchwalk_worker.media import Medium
from patchwalk_worker.rng import task_state
from patchwalk_worker.store import SweepStore
from scipy.integrate import quad

KAPPA = 0.5
HOMOGENEOUS = Medium.from_patches([(8.0, KAPPA)])
TWO_PHASE = Medium.from_patches([(1.0, 1.0), (0.5, 0.01)])
SIGMA_K = 3.0  # tolerance in (widened) standard errors
CATALAN = 0.915965594177219015


def exit_density(t: float, dist: float, kappa: float) -> float:
    """Density of the exit time from (−L, L) from its centre (module docstring)."""
    s = kappa * t / dist**2
    total = 0.0
    if s < 0.3:
        for k in range(30):
            c = 2 * k + 1
            total += (-1) ** k * c * math.exp(-c * c / (4.0 * s))
        return dist / math.sqrt(math.pi * kappa * t**3) * total
    for n in range(30):
        c = 2 * n + 1
        total += (-1) ** n * c * math.exp(-c * c * math.pi**2 * s / 4.0)
    return math.pi * kappa / dist**2 * total


def truncated_inverse(dist: float, kappa: float, t_max: float) -> tuple[float, float]:
    """(E[1/τ; τ ≤ t_max], P(τ > t_max)) by quadrature of the exit density."""
    scale = dist**2 / kappa
    pts = [0.01 * scale, 0.3 * scale, scale]
    f_in = quad(lambda t: exit_density(t, dist, kappa) / t, 0.0, t_max,
                points=[p for p in pts if p < t_max], limit=200)[0]
    p_in = quad(lambda t: exit_density(t, dist, kappa), 0.0, t_max,
                points=[p for p in pts if p < t_max], limit=200)[0]
    return f_in, 1.0 - p_in


def mean_inverse_time(dist: float, kappa: float) -> float:
    """⟨1/τ⟩ = ∫₀^∞ ds / cosh(L√(s/κ)) (the Laplace transform integrated)."""
    return quad(lambda s: 1.0 / math.cosh(dist * math.sqrt(s / kappa)), 0.0, math.inf,
                limit=200)[0]


def test_yardstick_laplace_series_and_closed_form_agree() -> None:
    for dist in (0.3, 1.0, 2.5):
        lap = mean_inverse_time(dist, KAPPA)
        ser, tail = truncated_inverse(dist, KAPPA, 1e3 * dist**2 / KAPPA)
        assert tail == pytest.approx(0.0, abs=1e-10)
        assert ser == pytest.approx(lap, rel=1e-8)
        assert lap == pytest.approx(4.0 * CATALAN * KAPPA / dist**2, rel=1e-8)


def _summary(esc: np.ndarray, n: int, t_max: float):  # type: ignore[no-untyped-def]
    return escape_summary(esc[None], float(n), distinct_realisations=False, t_max=t_max)


@pytest.mark.parametrize("kernel", ["exact", "euler"])
def test_mean_rate_matches_exact_theory(kernel: str) -> None:
    dists, n = (0.3, 1.0), 3000
    t_max = 200.0 * max(dists) ** 2 / KAPPA
    if kernel == "exact":
        r = run_exact(HOMOGENEOUS, [t_max], n, task_state(21, 0, 0), escape=dists, stop=True)
    else:
        r = run_euler(HOMOGENEOUS, [t_max], n, task_state(22, 0, 0), escape=dists,
                      courant=1e-3, stop=True)
    assert np.all(r.esc[:, 0] == n)  # every particle escaped: the bounds coincide
    es = _summary(r.esc, n, t_max)
    np.testing.assert_allclose(es.mean_rate, es.mean_rate_upper, rtol=1e-12)
    for j, dist in enumerate(dists):
        exact = mean_inverse_time(dist, KAPPA)
        assert abs(es.mean_rate[j] - exact) < SIGMA_K * es.mean_rate_err[j], (
            dist, es.mean_rate[j], exact, es.mean_rate_err[j])
        # and it is not 1/⟨τ⟩ = 2κ/L²: the two rates differ by the factor 2G ≈ 1.83
        assert es.rate[j] < 0.6 * es.mean_rate[j]


def test_unescaped_bounds_bracket_the_mean_rate() -> None:
    dist, n = 1.0, 4000
    t_max = 0.4 * dist**2 / KAPPA  # about half of the particles are still inside
    r = run_exact(HOMOGENEOUS, [t_max], n, task_state(23, 0, 0), escape=(dist,))
    es = _summary(r.esc, n, t_max)
    lower, tail = truncated_inverse(dist, KAPPA, t_max)
    assert 0.2 < tail < 0.8
    assert abs(es.fraction[0] - (1.0 - tail)) < SIGMA_K * math.sqrt(tail * (1 - tail) / n)
    err = float(es.mean_rate_err[0])
    # each bound against its own exact expectation
    assert abs(es.mean_rate[0] - lower) < SIGMA_K * err
    assert abs(es.mean_rate_upper[0] - (lower + tail / t_max)) < SIGMA_K * err
    assert es.mean_rate_upper[0] - es.mean_rate[0] == pytest.approx(
        (1.0 - es.fraction[0]) / t_max, rel=1e-12)
    # ⟨1/τ⟩ lies strictly between them, far outside the noise on both sides
    full = mean_inverse_time(dist, KAPPA)
    assert es.mean_rate[0] + 5 * err < full < es.mean_rate_upper[0] - 5 * err


def _pair(kernel: str) -> tuple[object, object]:
    """The same particles with and without escape.stop."""
    out = []
    for stop in (False, True):
        if kernel == "exact":
            r = run_exact(TWO_PHASE, [1.0, 300.0], 200, task_state(31, 0, 0),
                          escape=(1.0, 0.5), stop=stop)
        elif kernel == "exact2d":
            m = Medium.from_strips([(np.array([0.0, 1.0, 1.5]), np.array([1.0, 0.01])),
                                    (np.array([0.0, 0.7, 1.5]), np.array([0.01, 1.0]))],
                                   l_perp=0.5, kappa_perp=0.1)
            r = run_exact(m, [1.0, 200.0], 100, task_state(32, 0, 0), escape=(0.5, 1.0),
                          stop=stop)
        elif kernel == "euler":
            r = run_euler(HOMOGENEOUS, [1.0, 40.0], 200, task_state(33, 0, 0),
                          escape=(0.3, 0.7), courant=0.01, stop=stop)
        elif kernel == "pitch":
            r = run_pitch(HOMOGENEOUS, [1.0, 40.0], 200, task_state(34, 0, 0),
                          escape=(0.7,), v=20.0, stop=stop)
        else:
            r = run_streaming(HOMOGENEOUS, [1.0, 60.0], 200, task_state(35, 0, 0),
                              escape=(0.7, 0.3), v_str=1.0, stop=stop)
        out.append(r)
    return out[0], out[1]


@pytest.mark.parametrize("kernel", ["exact", "exact2d", "euler", "pitch", "streaming"])
def test_stop_keeps_the_escape_sums_bitwise_and_saves_steps(kernel: str) -> None:
    full, stop = _pair(kernel)
    assert np.all(full.esc[:, 0] == full.esc[:, 0].max())  # type: ignore[attr-defined]
    # a particle's draws until its escape are the same: the sums are the same bits
    np.testing.assert_array_equal(full.esc, stop.esc)  # type: ignore[attr-defined]
    assert stop.steps < 0.3 * full.steps, (stop.steps, full.steps)  # type: ignore[attr-defined]


SPEC = """
name = "stop"
seed = 4
[medium]
length = 60.0
high = {{ kappa = 1.0, patches = {{ pdf = "power_law", alpha = 2.5, l_min = 0.2, l_max = 5.0 }} }}
low = {{ kappa = 0.02, patches = {{ pdf = "same" }} }}
[particles]
count = 120
per_task = 40
[times]
min = 0.1
max = 2000.0
count = 4
[escape]
distances = [0.5, 2.0]
stop = {stop}
"""


def test_store_of_a_stop_sweep(tmp_path: Path) -> None:
    """Through the store: same esc chunks as without stop, far fewer stored steps, the
    κ̄ records left out and ⟨1/τ⟩ within its bounds."""
    stores = {}
    for stop in ("false", "true"):
        spec = parse_spec(SPEC.format(stop=stop))
        path = str(tmp_path / f"{stop}.zarr")
        store = SweepStore.create_or_open(path, spec)
        for p, k in store.pending():
            execute_task(path, p, k)
        store.write_summaries()
        stores[stop] = SweepStore.open(path)
    full, stop = stores["false"], stores["true"]
    d_full, d_stop = full.read_point(0), stop.read_point(0)
    np.testing.assert_array_equal(d_full["esc"], d_stop["esc"])
    assert d_stop["esc"].shape == (3, 2, 5)
    assert stop.steps_done() < 0.2 * full.steps_done(), (stop.steps_done(), full.steps_done())
    from patchwalk_worker.results import read_results

    res = read_results(stop.path)
    assert res.escape_stop and res.kappa == [] and res.theory == []
    e = res.escape[0]
    assert e.mean_rate is not None and e.mean_rate_upper is not None
    assert all(lo <= up for lo, up in zip(e.mean_rate, e.mean_rate_upper, strict=True))
    assert read_results(full.path).escape[0].mean_rate == e.mean_rate
