"""Deterministic reference: solver agreement, exact limits, short-time law, expm check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_worker.media import Medium, generate_two_phase
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.reference import (
    build_lattice,
    msd_contour,
    msd_eigen,
    reference_kappa,
    reference_msd,
)

TWO = Medium.from_patches([(1.0, 1.0), (1.0, 0.01)])
FOUR = Medium.from_patches([(1.0, 1.0), (3.0, 0.01), (7.0, 1.0), (1.5, 1e-4)])


@pytest.mark.parametrize("medium", [TWO, FOUR])
def test_eigen_and_contour_agree(medium: Medium) -> None:
    lat = build_lattice(medium.edges, medium.kappa, cells_per_l_min=32)
    t = np.geomspace(1e-5, 1e8, 30)
    e, c = msd_eigen(lat, t), msd_contour(lat, t)
    assert np.max(np.abs(c / e - 1)) < 1e-8


def test_limits_kappa_A_and_kappa_H() -> None:
    lat = build_lattice(FOUR.edges, FOUR.kappa, cells_per_l_min=32)
    k = msd_contour(lat, np.array([1e-9, 1e12])) / (2 * np.array([1e-9, 1e12]))
    assert k[0] == pytest.approx(lat.kappa_A, rel=1e-6)  # lattice κ̄(0⁺) = ⟨a⟩/2
    assert k[1] == pytest.approx(FOUR.kappa_H, rel=1e-6)  # exact on the lattice
    assert lat.kappa_H == pytest.approx(FOUR.kappa_H, rel=1e-13)
    # the lattice κ_A converges to the continuum κ_A as the interface cells shrink
    gaps = [
        FOUR.kappa_A - build_lattice(FOUR.edges, FOUR.kappa, cells_per_l_min=c).kappa_A
        for c in (16, 64, 256)
    ]
    assert gaps[0] > gaps[1] > gaps[2] > 0 and gaps[2] < 2e-3 * FOUR.kappa_A


def test_monotone_decreasing() -> None:
    t = np.geomspace(1e-4, 1e6, 40)
    k = reference_kappa(FOUR, t)
    assert np.all(np.diff(k) <= 1e-12 * k[:-1])


def test_short_time_expansion_item2() -> None:
    """VALIDATION item 2 on κ = 1 | 0.01, lengths 1 | 1; the O(t) remainder stays bounded."""
    period = 2.0
    s = (1.0 - 0.1) ** 2 * (1.0 + 0.1) * 2 / period
    ka = 0.505

    def formula(t: float) -> float:
        return ka - 4 / (3 * math.sqrt(math.pi)) * s * math.sqrt(t)

    t = np.array([1e-4, 4e-4, 1e-3])
    k = reference_kappa(TWO, t, cells_per_l_min=512)
    resid = k - np.array([formula(x) for x in t])
    # remainder is O(t): |resid|/t bounded and much smaller than the √t term
    assert np.all(np.abs(resid) < 2.0 * t + 2e-4)
    k01 = float(reference_kappa(TWO, [0.01], cells_per_l_min=128)[0])
    assert abs(k01 - formula(0.01)) < 0.02 * (ka - formula(0.01))


def test_refinement_reaches_1e3_of_continuum() -> None:
    t = np.geomspace(1e-2, 1e5, 15)  # t >= (l_min/10)^2 / kappa_max
    fine = reference_msd(FOUR, t, cells_per_l_min=512, method="contour")
    default = reference_msd(FOUR, t)  # cells_per_l_min = 64
    assert np.max(np.abs(default / fine - 1)) < 1e-3


def test_against_expm_on_unwrapped_lattice() -> None:
    """Independent: P = expm(Lt) on a long open lattice, ⟨Δx²⟩ = Σπ_i Σ_j P_ij (x_j − x_i)²."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    lat = build_lattice(TWO.edges, TWO.kappa, cells_per_l_min=8, grading=1.0)
    reps = 31
    h = np.tile(lat.h, reps)
    kc = np.tile(lat.kappa, reps)
    n = h.shape[0]
    g = 1.0 / (0.5 * h[:-1] / kc[:-1] + 0.5 * h[1:] / kc[1:])
    gen = np.zeros((n, n))
    i = np.arange(n - 1)
    gen[i, i + 1] = g / h[:-1]
    gen[i + 1, i] = g / h[1:]
    gen -= np.diag(gen.sum(axis=1))
    x = np.cumsum(h) - 0.5 * h
    mid = slice((reps // 2) * lat.n_cells, (reps // 2 + 1) * lat.n_cells)
    pi = h[mid] / h[mid].sum()
    times = np.array([0.01, 0.3, 3.0, 30.0])  # √(2κ_A t) ≪ 15 periods
    direct = []
    for t in times:
        p = scipy_linalg.expm(gen * t)[mid]
        direct.append(np.sum(pi * np.sum(p * (x[None, :] - x[mid, None]) ** 2, axis=1)))
    gk = msd_eigen(lat, times)
    np.testing.assert_allclose(gk, direct, rtol=1e-8)


def test_strips_and_errors() -> None:
    rng = np.random.default_rng(0)
    pdf = PowerLaw(2.5, 1.0, 5.0)
    m2 = generate_two_phase(pdf, pdf, 1.0, 0.01, 30.0, rng, n_strips=3, l_perp=1.0)
    t = np.array([0.1, 10.0])
    avg = np.mean([reference_msd(Medium.from_strips([m2.strip(s)], l_perp=0, kappa_perp=0), t)
                   for s in range(3)], axis=0)
    np.testing.assert_allclose(reference_msd(m2, t), avg, rtol=1e-12)
    with pytest.raises(ValueError, match="kappa_perp"):
        reference_msd(Medium.from_strips([m2.strip(0)] * 2, l_perp=1, kappa_perp=1.0), t)
    with pytest.raises(ValueError, match="method"):
        reference_msd(TWO, t, method="bogus")
    opts = {"cells_per_l_min": 16, "method": "eigen"}
    np.testing.assert_allclose(
        reference_msd(TWO, t, opts), reference_msd(TWO, t, cells_per_l_min=16, method="contour"),
        rtol=1e-8,
    )
