"""Theory formulas against the paper's stated limits and against each other."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_worker.media import Medium
from patchwalk_worker.patches import Narrow, PowerLaw
from patchwalk_worker.reference import reference_kappa
from patchwalk_worker.theory import (
    c7,
    c8,
    c9,
    c10,
    escape_rate_8,
    f_longer_than,
    kappa_A,
    kappa_H,
    progressive_harmonic_mean,
    scaling_6,
    scaling_7,
    scaling_11,
    short_time,
    theory_curves,
    two_phase_means,
)

PL = PowerLaw(3.0, 1.0, 1000.0)


def _c7_quadrature(t: float, pdf: PowerLaw, kh: float, f: float) -> float:
    """(C7) by direct quadrature of (C6) × min(4ℓ², 2κt) (independent of the closed form)."""
    a = pdf.alpha
    num = pdf.l_min ** (2 - a) - pdf.l_max ** (2 - a)
    ell = np.concatenate([np.linspace(0, pdf.l_min / 2, 2001)[:-1],
                          np.geomspace(pdf.l_min / 2, pdf.l_max / 2, 400_001)])
    with np.errstate(divide="ignore"):
        F = np.where(2 * ell < pdf.l_min,
                     2 * (a - 2) / (a - 1) * (pdf.l_min ** (1 - a) - pdf.l_max ** (1 - a)) / num,
                     2 * (a - 2) / (a - 1) * ((2 * ell) ** (1 - a) - pdf.l_max ** (1 - a)) / num)
    y = F * np.minimum(4 * ell**2, 2 * kh * t)
    return float((1 - f) / (2 * t) * np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(ell)))


def test_means() -> None:
    assert kappa_A([1, 0.01], [1, 1]) == pytest.approx(0.505)
    assert kappa_H([1, 0.01], [1, 1]) == pytest.approx(2 / 101)
    ka, kh = two_phase_means(0.5, 1.0, 0.01)
    assert (ka, kh) == (pytest.approx(0.505), pytest.approx(2 / 101))


def test_c7_closed_form_matches_quadrature_and_c8_c9_c10() -> None:
    f, kh = 0.3, 1.0
    for t in (0.01, 0.3, 5.0, 300.0, 3e4, 1e7):
        assert c7(t, PL, kh, f)[()] == pytest.approx(_c7_quadrature(t, PL, kh, f), rel=1e-4)
    t_early = np.geomspace(1e-6, 0.49, 20)  # t < l_min²/2κ
    np.testing.assert_allclose(c7(t_early, PL, kh, f), c8(t_early, kh, f, PL.moment(1)), rtol=1e-12)
    assert c8(1e-12, kh, f, PL.moment(1))[()] == pytest.approx((1 - f) * kh, rel=1e-5)
    t_late = np.geomspace(5.1e5, 1e9, 10)  # t > l_max²/2κ
    np.testing.assert_allclose(c7(t_late, PL, kh, f), c9(t_late, PL, f), rtol=1e-12)
    # C10: 2 < α < 4, l_max ≫ l_min, l_min² < 2κt < l_max²
    big = PowerLaw(2.5, 1.0, 1e16)
    t_mid = np.geomspace(10.0, 1e6, 10)
    np.testing.assert_allclose(c10(t_mid, kh, f, 2.5, 1.0), c7(t_mid, big, kh, f), rtol=1e-5)
    # as printed, (C10) differs from (C7) only by its l_min²/t term: (1 − (α−2)/(α−1))(1−f)/6t
    diff = c10(t_mid, kh, f, 2.5, 1.0, as_printed=True) - c7(t_mid, big, kh, f)
    np.testing.assert_allclose(diff, (1 - 0.5 / 1.5) * (1 - f) / (6 * t_mid), atol=1e-8)
    # as printed, (C9) is not the late-time limit of (C7) (see docs/reference.md)
    assert c9(1e8, PL, f, as_printed=True)[()] != pytest.approx(c7(1e8, PL, kh, f)[()], rel=0.1)


def test_scaling_7_branches_and_6() -> None:
    t = np.geomspace(1, 1e5, 6)
    for a in (1.5, 2.0, 3.0, 5.0):
        y = scaling_7(t, 1.0, 0.2, a, 1.0, 1000.0)
        assert np.all(y >= 0) and np.all(np.diff(y) <= 0)
    y3 = scaling_7(t, 1.0, 0.2, 3.0, 1.0, 1e9)
    np.testing.assert_allclose(y3, 0.8 * t**-0.5)
    # α = 2 is the continuous limit of the α → 2 branches' log form
    assert scaling_7(100.0, 1, 0, 2.0, 1, 1e3)[()] == pytest.approx(math.log(1e4) / math.log(1e6))
    # (6) for the power law tends to (1−f)κ at early times and scales like (7) in the middle
    s6 = scaling_6(np.array([1e-3, 1e4]), PL, PL, 1.0)
    assert s6[0] == pytest.approx(0.5)
    assert s6[1] == pytest.approx(0.5 * 100 ** (2 - 3) * (1 - 1e-3 * 100) / (1 - 1e-3), rel=1e-6)
    np.testing.assert_allclose(scaling_11(0.1, 1.0, 1.0, 0.2, 3.0, 1.0, 1e3),
                               scaling_7(10.0, 1.0, 0.2, 3.0, 1.0, 1e3))


def test_escape_estimate() -> None:
    low = Narrow(2.0, 1.0)
    f = 2.0 / (2.0 + PL.moment(1))
    assert f_longer_than(0.5, PL, low)[()] == pytest.approx(1 - f)
    assert f_longer_than(2000.0, PL, low)[()] == 0.0
    L = np.array([0.5, 10.0, 1e4])
    fg = f_longer_than(L, PL, low)
    r = escape_rate_8(L, 1.0, 0.01, fg)
    assert r[0] == pytest.approx(((1 - f) * 1.0 + f * 0.01) / 0.25)
    assert r[2] == pytest.approx(0.01 / 1e8)


MED = Medium.from_patches([(1.0, 1.0), (3.0, 0.01), (7.0, 1.0), (1.5, 1e-4)])


def test_phm_limits_and_exact_inversion() -> None:
    t = np.array([1e-8, 1e13])
    k = progressive_harmonic_mean(MED, t)
    assert k[0] == pytest.approx(MED.kappa_A, rel=1e-6)
    assert k[1] == pytest.approx(MED.kappa_H, rel=1e-3)
    # homogeneous medium: L² = 2κt exactly
    hom = Medium.from_patches([(1.0, 0.3), (2.0, 0.3)])
    np.testing.assert_allclose(progressive_harmonic_mean(hom, [0.1, 10, 1e3]), 0.3, rtol=1e-12)
    # every start solves τ(L; x0) = t: check the mean against direct quadrature of (C1)
    k_mid = progressive_harmonic_mean(MED, np.geomspace(1e-3, 1e4, 15))
    assert np.all(np.diff(k_mid) <= 1e-12)


def test_short_time_item2() -> None:
    two = Medium.from_patches([(1.0, 1.0), (1.0, 0.01)])
    assert short_time(two, 0.01)[()] == pytest.approx(0.4380, abs=5e-5)
    t = np.array([2e-4, 1e-3])
    ref = reference_kappa(two, t, cells_per_l_min=256)
    coef = 0.505 - short_time(two, 1.0)[()]
    assert np.all(np.abs(ref - short_time(two, t)) < 0.1 * coef * np.sqrt(t))


def test_theory_curves_from_spec() -> None:
    from patchwalk_client.spec import load_spec

    spec = load_spec({
        "seed": 3, "dimensions": 2,
        "medium": {"length": 500.0, "kappa_perp": 0.1, "l_perp": 1.0, "strips": 2,
                   "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 3.0,
                                                      "l_min": 1.0, "l_max": 50.0}},
                   "low": {"kappa": 0.01, "patches": {"pdf": "same"}}},
        "particles": {"count": 1}, "times": {"min": 0.01, "max": 1e4},
    })
    t = np.geomspace(0.01, 1e4, 12)
    cur = theory_curves(spec, t)
    for key in ("kappa_A", "kappa_H", "progressive_harmonic_mean", "scaling_7", "c7",
                "short_time", "kappa_perp", "scaling_11"):
        assert cur[key].shape == t.shape, key
    assert cur["kappa_A"][0] > cur["kappa_H"][0]
    assert np.all(np.diff(cur["progressive_harmonic_mean"]) <= 1e-12)


def test_kappa_2d_heuristic_limits() -> None:
    """Eq. (10): κ̄_2D → κ_A for fast perpendicular diffusion (B1), κ_H for κ⊥ → 0; (11) finite."""
    from patchwalk_client.spec import load_spec
    from patchwalk_worker.theory import kappa_2d_heuristic, scaling_11

    base = {
        "seed": 5, "dimensions": 2,
        "medium": {
            "length": 2000.0, "l_perp": 1.0, "kappa_perp": 1.0,
            "high": {"kappa": 1.0,
                     "patches": {"pdf": "power_law", "alpha": 3.0, "l_min": 1.0, "l_max": 30.0}},
            "low": {"kappa": 1e-2, "patches": {"pdf": "same"}},
        },
        "particles": {"count": 10, "per_task": 10},
        "times": {"min": 0.1, "max": 10.0, "count": 3},
    }

    def with_perp(kperp: float) -> dict[str, float]:
        spec = load_spec({**base, "medium": {**base["medium"], "kappa_perp": kperp}})
        return kappa_2d_heuristic(spec)

    rng = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(0, 0, 0)))
    from patchwalk_worker.media import build_medium

    strip = build_medium(load_spec(base), rng, 1.0).strip(0)
    k_a = float(np.sum(np.diff(strip[0]) * strip[1]) / strip[0][-1])
    k_h = float(strip[0][-1] / np.sum(np.diff(strip[0]) / strip[1]))
    fast, slow, none = with_perp(1e6), with_perp(1e-9), with_perp(0.0)
    assert fast["eq10"] == pytest.approx(k_a, rel=1e-3)
    assert none["eq10"] == pytest.approx(k_h, rel=1e-12)
    assert slow["eq10"] == pytest.approx(k_h, rel=2e-2)
    assert k_h < with_perp(1.0)["eq10"] < k_a
    mid = with_perp(1.0)["eq11"]
    assert math.isfinite(mid) and mid > 0
    assert math.isnan(none["eq11"])
    assert mid == pytest.approx(float(scaling_11(1.0, 1.0, 1.0, 0.5, 3.0, 1.0, 30.0)), rel=1e-9)
