"""The deterministic mean first-passage time (first_passage.py) against exact results and a
brute-force finite-difference solve of (FP1)."""

from __future__ import annotations

import numpy as np
import pytest
from patchwalk_worker.first_passage import first_passage_moments, mean_first_passage
from patchwalk_worker.media import Medium, generate_strip
from patchwalk_worker.patches import PowerLaw
from scipy.linalg import solve_banded

TWO_PHASE = [(1.0, 1.0), (0.5, 0.01)]


def power_law_medium(seed: int = 5) -> Medium:
    pdf = PowerLaw(2.5, 0.1, 3.0)
    e, k = generate_strip(pdf, pdf, 1.0, 0.02, 30.0, np.random.default_rng(seed))
    return Medium.from_patches(list(zip(np.diff(e), k, strict=True)))


@pytest.mark.parametrize(
    "patches", [[(8.0, 0.5)], [(0.3, 0.7), (1.1, 0.7), (0.6, 0.7)]]
)
def test_homogeneous_moments(patches: list[tuple[float, float]]) -> None:
    # T = L²/2κ and T₂ = 5L⁴/(12κ²) from every start (derived in docs/reference.md)
    m = Medium.from_patches(patches)
    kap = patches[0][1]
    L = np.array([1e-3, 0.2, 0.7, 2.5, 30.0, 400.0])
    r = mean_first_passage(m, L)
    np.testing.assert_allclose(r[:, 0], L**2 / (2 * kap), rtol=1e-12)
    np.testing.assert_allclose(r[:, 1], 5 * L**4 / (12 * kap**2), rtol=1e-12)


def fd_moments(patches: list[tuple[float, float]], x0: float, L: float,
               h: float) -> tuple[float, float]:
    """Brute force: 3-point finite differences of (FP1) on nodes x₀ − L + ih, interfaces on
    nodes, κ of each cell at its midpoint; T₂ from −2T at the nodes (second order)."""
    lengths = np.array([p[0] for p in patches])
    kap = np.array([p[1] for p in patches])
    period = lengths.sum()
    edges = np.concatenate([[0.0], np.cumsum(lengths)])
    n = int(round(2 * L / h))
    mid = x0 - L + (np.arange(n) + 0.5) * h
    idx = np.searchsorted(edges, np.mod(mid, period), side="right") - 1
    kc = kap[idx]  # cell κ, cells between nodes i and i+1
    # interior nodes 1..n-1: -(kc[i](T[i+1]-T[i]) - kc[i-1](T[i]-T[i-1]))/h² = rhs
    ab = np.zeros((3, n - 1))
    ab[0, 1:] = -kc[1:-1] / h**2
    ab[1, :] = (kc[:-1] + kc[1:]) / h**2
    ab[2, :-1] = -kc[1:-1] / h**2
    t1 = solve_banded((1, 1), ab, np.ones(n - 1))
    t2 = solve_banded((1, 1), ab, 2 * t1)
    i0 = int(round(L / h)) - 1
    return float(t1[i0]), float(t2[i0])


@pytest.mark.parametrize(("x0", "L"), [(0.2, 0.9), (1.2, 0.3), (0.9, 1.1), (1.4, 3.7)])
def test_pointwise_against_finite_differences(x0: float, L: float) -> None:
    m = Medium.from_patches(TWO_PHASE)
    h = 1e-3
    t1, t2 = fd_moments(TWO_PHASE, x0, L, h)
    got = first_passage_moments(m, [x0], L)[0]
    assert abs(got[0] - t1) < 1e-9 * t1  # the 3-point scheme is exact for T at the nodes
    assert abs(got[1] - t2) < 1e-5 * t2  # O(h²) for T₂
    # convergence check: halving h moves T₂ by 4x less
    t2h = fd_moments(TWO_PHASE, x0, L, h / 2)[1]
    assert abs(got[1] - t2h) < 0.4 * abs(got[1] - t2) + 1e-12 * t2


@pytest.mark.parametrize("L", [0.01, 0.3, 0.9, 1.0, 1.1, 20.0])
def test_average_against_dense_quadrature(L: float) -> None:
    # the break-point quadrature against a plain midpoint rule of the pointwise solution
    m = Medium.from_patches(TWO_PHASE)
    n = 60_000
    x = (np.arange(n) + 0.5) * (1.5 / n)
    dense = first_passage_moments(m, x, L).mean(axis=0)
    got = mean_first_passage(m, [L])[0]
    np.testing.assert_allclose(got, dense, rtol=2e-6)


def test_power_law_medium_limits_and_dense_quadrature() -> None:
    m = power_law_medium()
    lmin = float(np.min(m.lengths()))
    L = np.array([0.01 * lmin, 0.5, 3.0, 2000.0])
    r = mean_first_passage(m, L)
    # L -> 0: T -> L²/(2κ(x₀)), averaged: L²⟨1/κ⟩/2 = L²/(2κ_H); L >> P: homogenised κ_H
    hom = L**2 / (2 * m.kappa_H)
    assert abs(r[0, 0] / hom[0] - 1) < 0.05
    assert abs(r[-1, 0] / hom[-1] - 1) < 0.05
    assert abs(r[-1, 1] / (5 * L[-1] ** 4 / (12 * m.kappa_H**2)) - 1) < 0.1
    n = 200_000
    x = (np.arange(n) + 0.5) * (m.length / n)
    dense = first_passage_moments(m, x, 0.5).mean(axis=0)
    np.testing.assert_allclose(r[1], dense, rtol=1e-4)


def test_strips_and_errors() -> None:
    a = Medium.from_patches(TWO_PHASE)
    b = Medium.from_patches([(0.5, 0.3)])
    two = Medium.from_strips([a.strip(0), (np.array([0.0, 1.5]), np.array([0.3]))], l_perp=1.0,
                              kappa_perp=0.0)
    got = mean_first_passage(two, [0.7])[0]
    want = 0.5 * (mean_first_passage(a, [0.7])[0] + mean_first_passage(b, [0.7])[0])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="escape distances"):
        mean_first_passage(a, [0.0])
    moving = Medium.from_strips([a.strip(0), a.strip(0)], l_perp=1.0, kappa_perp=0.1)
    with pytest.raises(ValueError, match="kappa_perp"):
        mean_first_passage(moving, [1.0])
