"""xoshiro256++ / ziggurat generator: moments, tails and CDF within k·σ, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_worker import rng

N = 2_000_000
K = 5.0  # tolerance in standard errors


@pytest.fixture(scope="module")
def normals() -> np.ndarray:
    out = np.empty(N)
    rng.fill_normals(rng.task_state(12345, 0, 0), out)
    return out


def test_ziggurat_tables() -> None:
    # 256-layer construction closes at the top and reproduces the standard base r
    assert rng.ZIG_R == pytest.approx(3.6541528853610088, rel=1e-12)
    assert rng.ZIG_X[-1] == 0.0 and np.all(np.diff(rng.ZIG_X[1:]) < 0)
    areas = rng.ZIG_X[1:-1] * (rng.ZIG_F[2:] - rng.ZIG_F[1:-1])
    base = rng.ZIG_R * rng.ZIG_F[1] + math.sqrt(math.pi / 2) * math.erfc(rng.ZIG_R / math.sqrt(2))
    np.testing.assert_allclose(areas, base, rtol=1e-9)


def test_normal_moments(normals: np.ndarray) -> None:
    x = normals
    assert abs(x.mean()) < K / math.sqrt(N)
    assert abs(x.var() - 1.0) < K * math.sqrt(2.0 / N)
    assert abs(np.mean(x**3)) < K * math.sqrt(15.0 / N)
    assert abs(np.mean(x**4) - 3.0) < K * math.sqrt(96.0 / N)


@pytest.mark.parametrize("level", [0.5, 1.0, 2.0, 3.0, 3.6541528853610088, 4.0, 4.5])
def test_normal_tails(normals: np.ndarray, level: float) -> None:
    p = math.erfc(level / math.sqrt(2.0))  # P(|x| > level)
    frac = float(np.mean(np.abs(normals) > level))
    assert abs(frac - p) < K * math.sqrt(p * (1 - p) / N) + 1.0 / N


def test_normal_cdf_ks(normals: np.ndarray) -> None:
    x = np.sort(normals[:200_000])
    n = x.size
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    d = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert d < 1.95 / math.sqrt(n)  # KS 0.1% level


def test_uniform_ks_and_range() -> None:
    u = np.empty(200_000)
    rng.fill_uniforms(rng.task_state(7, 1, 2), u)
    assert u.min() >= 0.0 and u.max() < 1.0
    x = np.sort(u)
    n = x.size
    d = max(np.max(np.arange(1, n + 1) / n - x), np.max(x - np.arange(n) / n))
    assert d < 1.95 / math.sqrt(n)
    # lag-1 correlation
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < K / math.sqrt(n)


def test_reproducible_and_distinct_streams() -> None:
    a = np.empty(1000)
    b = np.empty(1000)
    rng.fill_normals(rng.task_state(1, 2, 3), a)
    rng.fill_normals(rng.task_state(1, 2, 3), b)
    np.testing.assert_array_equal(a, b)
    for other in [(2, 2, 3), (1, 3, 3), (1, 2, 4)]:
        rng.fill_normals(rng.task_state(*other), b)
        assert not np.array_equal(a, b)
    st = rng.task_state(1, 2, 3)
    ps = np.empty((50, 4), dtype=np.uint64)
    for p in range(50):
        rng.particle_state(st, p, ps[p])
    assert len({tuple(r) for r in ps}) == 50
    again = np.empty(4, dtype=np.uint64)
    rng.particle_state(st, 17, again)
    np.testing.assert_array_equal(again, ps[17])


def test_task_state_matches_seedsequence() -> None:
    ss = np.random.SeedSequence(5, spawn_key=(6, 7, 1)).generate_state(4, np.uint64)
    np.testing.assert_array_equal(rng.task_state(5, 6, 7), ss)
    with pytest.raises(ValueError, match="must be >= 0"):
        rng.task_state(-1, 0, 0)
