"""Two-phase media: structure, closing rule, and κ_A, κ_H against the ensemble within k·σ."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from patchwalk_client.spec import SweepSpec, load_spec
from patchwalk_worker.media import (
    Medium,
    auto_strips,
    build_medium,
    ensemble_means,
    generate_strip,
    generate_two_phase,
)
from patchwalk_worker.patches import Exponential, Narrow, PowerLaw, filling_fraction


def _spec(energy: float = 1.0, dimensions: int = 1, **medium: Any) -> SweepSpec:
    base: dict[str, Any] = {
        "length": 2000.0,
        "high": {"kappa": 1.0, "beta": 2.0,
                 "patches": {"pdf": "power_law", "alpha": 2.5, "l_min": 1.0, "l_max": 50.0}},
        "low": {"kappa": 0.01, "beta": 0.5, "patches": {"pdf": "same"}},
    }
    base.update(medium)
    base = {k: v for k, v in base.items() if v is not None}
    return load_spec({"medium": base, "energy": energy, "dimensions": dimensions, "seed": 0,
                      "particles": {"count": 1}, "times": {"min": 1.0, "max": 100.0}})


@pytest.mark.parametrize("start", ["high", "low", "random"])
def test_strip_structure(start: str) -> None:
    rng = np.random.default_rng(1)
    hi, lo = PowerLaw(2.5, 1.0, 50.0), Narrow(2.0, 1.0)
    edges, kappa = generate_strip(hi, lo, 1.0, 0.01, 500.0, rng, start_phase=start)
    assert edges[0] == 0.0 and edges[-1] == 500.0
    assert np.all(np.diff(edges) > 0)
    assert np.all(kappa[1:] != kappa[:-1])  # phases alternate
    if start != "random":
        assert kappa[0] == (1.0 if start == "high" else 0.01)
    lengths = np.diff(edges)[:-1]  # all but the trimmed last patch are draws from the pdfs
    assert np.all(lengths[kappa[:-1] == 0.01] >= 1.5) and np.all(lengths[kappa[:-1] == 0.01] <= 2.5)


def test_realisation_means_match_ensemble_within_k_sigma() -> None:
    """κ_A, κ_H of independent realisations scatter around the ensemble values (eq. 5)."""
    hi, lo = PowerLaw(3.0, 1.0, 100.0), Exponential(2.0, 0.5)
    f = filling_fraction(hi, lo)
    ka_ens = f * 0.01 + (1 - f) * 1.0
    kh_ens = 1.0 / (f / 0.01 + (1 - f) / 1.0)
    rng = np.random.default_rng(7)
    ka, kh = [], []
    for _ in range(40):
        m = generate_two_phase(hi, lo, 1.0, 0.01, 5000.0, rng)
        ka.append(m.kappa_A)
        kh.append(m.kappa_H)
    for vals, ens in ((ka, ka_ens), (kh, kh_ens)):
        v = np.asarray(vals)
        se = v.std(ddof=1) / math.sqrt(len(v))
        assert abs(v.mean() - ens) < 4 * se + 2e-3 * ens  # small O(l/length) seam bias allowed


def test_random_start_phase_follows_filling_fraction() -> None:
    hi, lo = Narrow(3.0, 1.0), Narrow(1.0, 0.5)  # f = 0.25
    rng = np.random.default_rng(3)
    first_low = [generate_strip(hi, lo, 1.0, 0.1, 20.0, rng)[1][0] == 0.1 for _ in range(4000)]
    assert abs(np.mean(first_low) - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 4000)


def test_build_medium_energy_scaling_and_2d() -> None:
    spec = _spec(energy=10.0)
    m = build_medium(spec, np.random.default_rng(0), t_max=100.0)
    assert set(np.unique(m.kappa)) == {100.0, 0.01 * 10**0.5}
    assert m.n_strips == 1 and m.l_perp == 0.0
    ka, kh = ensemble_means(spec)
    assert ka > kh > 0
    spec2 = _spec(dimensions=2, kappa_perp=0.5, l_perp=1.0, beta_perp=1.0)
    m2 = build_medium(spec2, np.random.default_rng(0), t_max=100.0)
    assert m2.n_strips == auto_strips(0.5, 100.0, 1.0) == 30
    assert m2.kappa_perp == 0.5
    for s in range(m2.n_strips):
        e, _ = m2.strip(s)
        assert e[0] == 0.0 and e[-1] == 2000.0
    spec2 = _spec(dimensions=2, kappa_perp=0.5, l_perp=1.0, beta_perp=1.0, strips=3)
    assert build_medium(spec2, np.random.default_rng(0), 100.0).n_strips == 3
    assert auto_strips(0.0, 100.0, 1.0) == 8 and auto_strips(1e6, 1e6, 1.0) == 512


def test_build_medium_explicit_and_deterministic() -> None:
    spec = _spec(patches=[(1.0, 1.0), (1.0, 0.01)], high=None, low=None, length=None)
    m = build_medium(spec, np.random.default_rng(0), 1.0)
    assert isinstance(m, Medium) and m.length == 2.0
    assert ensemble_means(spec) == (m.kappa_A, m.kappa_H)
    a = build_medium(_spec(), np.random.default_rng(5), 1.0)
    b = build_medium(_spec(), np.random.default_rng(5), 1.0)
    assert np.array_equal(a.edges, b.edges) and np.array_equal(a.kappa, b.kappa)
