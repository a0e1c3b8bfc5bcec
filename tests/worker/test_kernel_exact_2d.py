"""2D ``exact`` kernel: the strip-edge construction and agreement with the 2D reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kstats import kappa_bar
from patchwalk_worker.kernels import run_exact
from patchwalk_worker.kernels.exact2d import edge_crossing, normal_tail
from patchwalk_worker.media import Medium
from patchwalk_worker.reference import reference_kappa
from patchwalk_worker.reference2d import reference_kappa_2d
from patchwalk_worker.rng import task_state

STRIPS = [
    (np.array([0.0, 1.0, 2.2, 3.0, 4.1, 6.0]), np.array([1.0, 0.05, 1.0, 0.05, 1.0])),
    (np.array([0.0, 0.6, 1.5, 2.9, 3.6, 5.0, 6.0]), np.array([0.05, 1.0, 0.05, 1.0, 0.05, 1.0])),
]


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def test_normal_tail_sampler() -> None:
    rs = task_state(1, 0, 0).copy()
    for c in (0.0, 0.5, 2.5):
        z = np.array([normal_tail(c, rs) for _ in range(20000)])
        assert np.all(z > c)
        # E[|Z| | |Z| > c] = φ(c) / Φ(−c)
        want = math.exp(-0.5 * c * c) / math.sqrt(2 * math.pi) / _phi(-c)
        assert abs(z.mean() - want) < 4 * z.std() / math.sqrt(z.size)


@pytest.mark.parametrize("z0", [0.0, 0.05, 0.3])
def test_edge_crossing_laws(z0: float) -> None:
    """End side, mean time across and its second moment against exact Brownian formulas."""
    rs = task_state(2, 0, 0).copy()
    dt, d = 0.7, 0.1
    n = 40000
    out = np.array([edge_crossing(z0, dt, d, rs) for _ in range(n)])
    t_o, z1 = out[:, 0], out[:, 1]
    s = math.sqrt(2 * d * dt)
    p_across = _phi(-z0 / s)
    assert abs(np.mean(z1 < 0) - p_across) < 4 * math.sqrt(p_across * (1 - p_across) / n) + 1e-9
    assert np.all((t_o >= 0) & (t_o <= dt))
    assert np.all((z1 < 0) <= (t_o > 0))  # ending across needs time across
    # E T_across = ∫₀^dt Φ(−z0/√(2ds)) ds (midpoint rule on a fine grid)
    u = (np.arange(20000) + 0.5) / 20000 * dt
    want = float(np.mean([_phi(-z0 / math.sqrt(2 * d * x)) for x in u]) * dt)
    assert abs(t_o.mean() - want) < 4 * t_o.std() / math.sqrt(n)
    # the end point is Gaussian N(z0, 2 d dt) whatever the crossings
    assert abs(z1.mean() - z0) < 4 * s / math.sqrt(n)
    assert abs(np.mean((z1 - z0) ** 2) / s**2 - 1) < 4 * math.sqrt(2 / n)


def test_dy2_exact_and_reproducible() -> None:
    m = Medium.from_strips(STRIPS, l_perp=0.3, kappa_perp=0.02)
    t = np.array([0.5, 5.0])
    a = run_exact(m, t, 400, task_state(4, 0, 0))
    b = run_exact(m, t, 400, task_state(4, 0, 0))
    np.testing.assert_array_equal(a.sums, b.sums)
    dy2 = a.sums[:, 4] / a.sums[:, 0]
    # ⟨Δy²⟩ = 2κ⊥t (VALIDATION item 7); Δy is Gaussian, so var(Δy²) = 2(2κ⊥t)²
    want = 2 * 0.02 * t
    assert np.all(np.abs(dy2 / want - 1) < 4 * math.sqrt(2 / 400))


# κ⊥ relative to κ_high = 1, with l⊥ chosen so that τ⊥ = l⊥²/κ⊥ = 4 lies inside the times
CASES = [(1e-4, 0.02), (1e-2, 0.2), (1.0, 2.0)]
TIMES = np.array([0.05, 4.0, 20.0])  # early, τ⊥, late


@pytest.mark.slow
@pytest.mark.parametrize(("kappa_perp", "l_perp"), CASES)
def test_exact_2d_matches_reference(kappa_perp: float, l_perp: float) -> None:
    """Within 1 % + 3σ of the 2D reference at early, τ⊥ and late times (fixed seeds)."""
    m = Medium.from_strips(STRIPS, l_perp=l_perp, kappa_perp=kappa_perp)
    ref = reference_kappa_2d(m, TIMES)
    one_d = reference_kappa(Medium.from_strips(STRIPS, l_perp=l_perp, kappa_perp=0.0), TIMES)
    r = run_exact(m, TIMES, 3000, task_state(12, 0, 0))
    k, e = kappa_bar(r.sums, TIMES)
    assert np.all(np.abs(k - ref) < 0.01 * ref + 3 * e), (k, e, ref)
    # the check means something: strip switching moves κ̄ at late times by more than that
    assert abs(ref[-1] - one_d[-1]) > 0.01 * ref[-1] + 3 * e[-1]
