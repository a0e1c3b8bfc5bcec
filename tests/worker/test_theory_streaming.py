"""Appendix E theory functions (theory_streaming)."""

from __future__ import annotations

import numpy as np
import pytest
from patchwalk_worker.theory import scaling_7
from patchwalk_worker.theory_streaming import (
    e2,
    kappa_e1,
    kappa_e2,
    kappa_early,
    kappa_long_time,
    kappa_long_time_ensemble,
    kappa_prw,
    one_minus_relax,
)


def test_prw_limits_and_series() -> None:
    t = np.array([1e-8, 1e-4, 1e-2, 1.0, 1e2, 1e6])
    k = kappa_prw(t, 3.0, 2.0)
    assert k[0] == pytest.approx(9.0 * 1e-8 / 2, rel=1e-7)  # ballistic v²t/2
    assert k[-1] == pytest.approx(9.0 / 2.0, rel=1e-6)  # v²/σ
    x = np.array([9.9e-4, 1.01e-3])  # the series and the expm1 form meet smoothly
    assert one_minus_relax(x) == pytest.approx(1 + np.expm1(-x) / x, rel=1e-12)
    # ⟨Δx²⟩ = (2v²/σ²)(σt − 1 + e^{−σt})
    assert 2 * t[3] * k[3] == pytest.approx(2 * 9 / 4 * (2 - 1 + np.exp(-2)), rel=1e-14)
    with pytest.raises(ValueError, match="sigma"):
        kappa_prw(t, 1.0, 0.0)


def test_e1_is_twice_the_exact_ballistic_value() -> None:
    t = np.array([1e-6, 1e6])
    assert kappa_e1(t, 2.0, 1.0) / kappa_prw(t, 2.0, 1.0) == pytest.approx([2.0, 1.0], rel=1e-5)


def test_e2_is_eq7_with_kappa_str() -> None:
    t = np.logspace(-1, 3, 9)
    for alpha in (1.5, 2.0, 3.0, 4.5):
        const = kappa_e2(t, np.full(t.shape, 0.7), 0.2, alpha, 1.0, 100.0)
        assert const == pytest.approx(scaling_7(t, 0.7, 0.2, alpha, 1.0, 100.0), rel=1e-12)
    ks = kappa_e1(t, 1.0, 1.0)
    assert e2(t, 1.0, 1.0, 0.2, 3.0, 1.0, 100.0) == pytest.approx(
        kappa_e2(t, ks, 0.2, 3.0, 1.0, 100.0))


def test_long_time_resistances() -> None:
    # one streaming patch: v²/σ, no interfaces
    assert kappa_long_time([2.0], [True], [1.0], 2.0, 4.0) == pytest.approx(1.0)
    # series resistances with 2 interfaces of 1/v each
    k = kappa_long_time([1.0, 0.5], [True, False], [9.0, 0.1], 1.0, 1.0)
    assert k == pytest.approx(1.5 / (1.0 + 5.0 + 2.0))
    # v → ∞ at fixed v²/σ = 1: the harmonic mean (4)
    v = 1e7
    assert kappa_long_time([1.0, 0.5], [True, False], [1.0, 0.1], v, v * v) == pytest.approx(
        1.5 / 6.0, rel=1e-6)
    assert kappa_long_time_ensemble(1.0, 0.5, 0.1, 1.0, 1.0) == pytest.approx(k)


def test_early_limit() -> None:
    t = np.array([1e-4])
    assert kappa_early(t, 0.25, 0.1, 1.0, 1.0) == pytest.approx(
        0.025 + 0.75 * kappa_prw(t, 1.0, 1.0))
    wall = kappa_early(t, 0.25, 0.1, 1.0, 1.0, interfaces_per_length=2.0)
    assert kappa_early(t, 0.25, 0.1, 1.0, 1.0) - wall == pytest.approx(
        2.0 * 4 / (3 * np.sqrt(np.pi)) * 0.1**1.5 * 1e-2)
