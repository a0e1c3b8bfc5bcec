"""The Appendix E streaming kernel against exact results (docs/kernels.md, "streaming")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kstats import K, kappa_bar
from patchwalk_worker.kernels.streaming import (
    estimate_events,
    run_streaming,
    streaming_positions,
    streaming_strip,
)
from patchwalk_worker.media import Medium
from patchwalk_worker.rng import task_state
from patchwalk_worker.theory_streaming import (
    e2,
    kappa_early,
    kappa_long_time,
    kappa_prw,
)

V, SIGMA = 2.0, 4.0


def test_single_phase_is_the_persistent_random_walk() -> None:
    # homogeneous medium: streams everywhere; κ̄(t) = (v²/σ)[1 − (1 − e^{−σt})/(σt)] exactly
    m = Medium.from_patches([(0.7, 1.0), (0.6, 1.0)])  # equal κ: one streaming patch
    st = np.array([0.01, 0.1, 1.0, 10.0, 100.0, 1000.0])
    t = st / SIGMA
    r = run_streaming(m, t, 20_000, task_state(20, 0, 0), v_str=V, sigma=SIGMA)
    k, e = kappa_bar(r.sums, t)
    exact = kappa_prw(t, V, SIGMA)
    assert np.all(np.abs(k - exact) < K * e), (k - exact) / e
    assert np.all(e < 0.02 * exact)  # tight enough to mean something
    # long-time limit v²/σ (isotropic re-draw), not v²/(2σ) (reversal at rate σ)
    assert abs(k[-1] - V * V / SIGMA) < K * e[-1] + 1.5e-3 * V * V / SIGMA
    assert abs(k[-1] - V * V / (2 * SIGMA)) > 20 * e[-1]


def test_reversal_count_and_default_sigma() -> None:
    # events on a homogeneous period-1 medium: output times + seam crossings + reversals (σ/2)
    m = Medium.from_patches([(1.0, 0.5)])
    t_end, n = 50.0, 2000
    r = run_streaming(m, [t_end], n, task_state(21, 0, 0), v_str=1.0)  # σ = v²/κ = 2
    k, e = kappa_bar(r.sums, np.array([t_end]))
    assert abs(k[0] - kappa_prw([t_end], 1.0, 2.0)[0]) < K * e[0]
    rev = r.steps / n - 1 - t_end * 1.0 / 1.0  # seam crossings: |v| t / period (±1)
    assert abs(rev - 0.5 * 2.0 * t_end) < K * math.sqrt(t_end / n) + 1.0


def test_two_phase_early_times() -> None:
    # streaming l = 1 (κ_str = v²/σ = 1), diffusive l = 0.5, κ = 0.01: f = 1/3, 2 interfaces / 1.5
    m = Medium.from_patches([(1.0, 1.0), (0.5, 0.01)])
    t = np.array([1e-3, 3e-3, 1e-2])
    r = run_streaming(m, t, 20_000, task_state(22, 0, 0), v_str=1.0, sigma=1.0)
    k, e = kappa_bar(r.sums, t)
    theory = kappa_early(t, 1 / 3, 0.01, 1.0, 1.0, interfaces_per_length=2 / 1.5)
    stopped = (2 / 1.5) * t**2 / 6  # bound of the neglected streaming-interface term
    assert np.all(np.abs(k - theory) < K * e + stopped), (k - theory) / e
    # (E2)'s prefactor with (E1) as printed is twice too large while ballistic
    e1 = kappa_early(t, 1 / 3, 0.01, 1.0, 1.0) + (2 / 3) * (t / (1 + t) - kappa_prw(t, 1.0, 1.0))
    assert np.all(e1[1:] - k[1:] > 6 * e[1:])
    assert np.all(e2(t, 1.0, 1.0, 1 / 3, 3.0, 1.0, 10.0) > 0.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("patches", "phase", "v", "sigma"),
    [([(1.0, 1.0), (0.5, 0.1)], "high", 1.0, 1.0), ([(1.0, 0.5), (0.5, 0.1)], "low", 2.0, None)],
)
def test_two_phase_long_time_limit(
    patches: list[tuple[float, float]], phase: str, v: float, sigma: float | None
) -> None:
    m = Medium.from_patches(patches)
    t = np.array([300.0])
    r = run_streaming(m, t, 4000, task_state(23, 0, 0), v_str=v, sigma=sigma,
                      streaming_phase=phase)
    k, e = kappa_bar(r.sums, t)
    est = estimate_events(m, 300.0, 1, v_str=v, sigma=sigma, streaming_phase=phase)
    assert abs(r.steps / 4000 / est - 1) < 0.15  # measured: within 1 % and 3 %
    ell = np.array([p[0] for p in patches])
    kap = np.array([p[1] for p in patches])
    is_str = kap == (kap.max() if phase == "high" else kap.min())
    sig = v * v / kap[is_str][0] if sigma is None else sigma
    k_inf = kappa_long_time(ell, is_str, kap, v, sig)
    # finite-t approach ~ 1/t: < 1 % at t = 300 here
    assert abs(k[0] - k_inf) < K * e[0] + 0.01 * k_inf, (k[0], k_inf, e[0])
    # the contact resistance 1/v per interface is resolved: harmonic mean of v²/σ and κ_diff
    k_harm = ell.sum() / (ell[is_str].sum() * sig / v**2 + (ell[~is_str] / kap[~is_str]).sum())
    assert abs(k[0] - k_harm) > 5 * e[0]  # measured: 13σ (high), 6.6σ (low)


def test_uniform_invariant_density() -> None:
    m = Medium.from_patches([(1.0, 1.0), (0.5, 0.1)])
    n, bins = 12_000, 12
    expect = n / bins

    def chi2(exit_factor: float) -> np.ndarray:
        _, pos = streaming_positions(m, [2.0, 20.0], n, task_state(24, 0, 0), v_str=1.0,
                                     sigma=1.0, exit_factor=exit_factor)
        out = []
        for row in pos:
            h, _ = np.histogram(np.mod(row, 1.5), bins=bins, range=(0.0, 1.5))
            out.append(float(np.sum((h - expect) ** 2 / expect)))
        return np.array(out)

    # chi² with 11 degrees of freedom: mean 11, sd 4.7; 40 is p ≈ 3e-5
    assert np.all(chi2(2.0) < 40.0)
    wrong = chi2(1.0)  # exit current v·ρ_d instead of (v/2)·ρ_d: diffusive patches depleted
    assert wrong[0] < 40.0 and wrong[-1] > 200.0


def test_positions_match_sums_and_reproducible() -> None:
    m = Medium.from_patches([(0.3, 0.05), (1.0, 1.0), (0.4, 0.05), (0.8, 1.0)])
    t = [0.5, 2.0]
    a = run_streaming(m, t, 300, task_state(25, 1, 2), v_str=3.0, escape=(0.5, 2.0))
    b = run_streaming(m, t, 300, task_state(25, 1, 2), v_str=3.0, escape=(0.5, 2.0))
    assert np.array_equal(a.sums, b.sums) and np.array_equal(a.esc, b.esc) and a.steps == b.steps
    c = run_streaming(m, t, 300, task_state(25, 1, 2), v_str=3.0)  # escapes change the jumps
    r, pos = streaming_positions(m, t, 300, task_state(25, 1, 2), v_str=3.0)
    assert np.array_equal(r.sums, c.sums)
    dx = pos[1:] - pos[0]
    assert np.allclose(np.sum(dx**2, axis=1), r.sums[:, 2])
    assert np.all((pos[0] >= 0.0) & (pos[0] < 2.5))
    assert a.esc[0, 0] > 0 and np.all(a.esc[:, 0] <= 300)


def test_streaming_strip_merges_and_rotates() -> None:
    m = Medium.from_patches([(0.5, 1.0), (0.2, 1.0), (0.3, 0.1), (0.4, 1.0)])
    s = streaming_strip(m, "high")
    # the two κ = 1 patches merge with the last across the seam; the origin moves to 0.7
    assert np.allclose(s.edges, [0.0, 0.3, 1.4]) and list(s.is_str) == [False, True]
    assert s.origin == pytest.approx(0.7) and np.allclose(s.kappa, [0.1, 1.0])
    s = streaming_strip(m, "low")
    assert list(s.is_str) == [True, False]
    one = streaming_strip(Medium.from_patches([(0.5, 0.3), (0.2, 0.3)]), "low")
    assert np.allclose(one.edges, [0.0, 0.7]) and list(one.is_str) == [True]


def test_homogeneous_escape_time() -> None:
    # ballistic legs: first passage of the persistent random walk; L ≪ v/σ → τ ≈ L/v
    m = Medium.from_patches([(1.0, 1.0)])
    r = run_streaming(m, [10.0], 2000, task_state(26, 0, 0), v_str=1.0, sigma=1e-3,
                      escape=(0.5,))
    n, s1, _ = r.esc[0, :3]
    assert n == 2000 and abs(s1 / n - 0.5) < 1e-3


def test_homogeneous_mean_first_passage_time() -> None:
    # telegraph backward equations (reversal rate λ = σ/2, start at 0 with a random direction):
    # E τ(±L) = L/v + λL²/v², → L²/(2κ) with κ = v²/σ in the diffusive limit
    m = Medium.from_patches([(1.0, 1.0)])
    v, sig, ell, n = 1.0, 2.0, 2.0, 4000
    r = run_streaming(m, [60.0], n, task_state(27, 0, 0), v_str=v, sigma=sig, escape=(ell,))
    cnt, s1, s2 = r.esc[0, :3]
    assert cnt == n  # P(τ > 60) ~ e^-18
    mean = s1 / n
    err = math.sqrt((s2 / n - mean**2) / n)
    assert abs(mean - (ell / v + 0.5 * sig * ell**2 / v**2)) < K * err
    assert abs(mean - ell**2 * sig / (2 * v**2)) > 10 * err  # the ballistic L/v is resolved


def test_bad_arguments() -> None:
    m = Medium.from_patches([(1.0, 1.0), (1.0, 0.1)])
    with pytest.raises(ValueError, match="v_str"):
        run_streaming(m, [1.0], 1, task_state(0, 0, 0), v_str=0.0)
    with pytest.raises(ValueError, match="sigma"):
        run_streaming(m, [1.0], 1, task_state(0, 0, 0), sigma=-1.0)
    with pytest.raises(ValueError, match="streaming_phase"):
        run_streaming(m, [1.0], 1, task_state(0, 0, 0), streaming_phase="mid")
    three = Medium.from_patches([(1.0, 1.0), (1.0, 0.1), (1.0, 0.5)])
    with pytest.raises(ValueError, match="two-phase"):
        run_streaming(three, [1.0], 1, task_state(0, 0, 0))
    two_d = Medium.from_strips([(np.array([0.0, 1.0]), np.array([1.0]))] * 2, l_perp=1.0,
                               kappa_perp=0.1)
    with pytest.raises(ValueError, match="1D"):
        run_streaming(two_d, [1.0], 1, task_state(0, 0, 0))
