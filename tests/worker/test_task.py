"""One task: particle split, seeding, determinism, and the sums it returns."""

from __future__ import annotations

import numpy as np
import pytest
from patchwalk_client.spec import load_spec
from patchwalk_worker.task import n_tasks, run_task, task_particles


def _spec(**over: object) -> object:
    data: dict[str, object] = {
        "name": "task-test",
        "seed": 5,
        "medium": {"patches": [[1.0, 1.0], [1.0, 1.0]]},
        "particles": {"count": 2500, "per_task": 1000},
        "times": {"min": 0.05, "max": 2.0, "count": 5},
    }
    data.update(over)
    return load_spec(data)


def test_particle_split() -> None:
    spec = _spec()
    assert n_tasks(spec) == 3
    assert [task_particles(spec, k) for k in range(3)] == [1000, 1000, 500]
    with pytest.raises(IndexError, match="0..2"):
        task_particles(spec, 3)


def test_same_task_same_bits_other_task_other_stream() -> None:
    spec = _spec()
    a, b, c = run_task(spec, 0, 1), run_task(spec, 0, 1), run_task(spec, 0, 2)
    assert a.sums.tobytes() == b.sums.tobytes()
    assert a.sums.shape == (5, 5)
    assert np.all(a.sums[:, 0] == 1000) and np.all(c.sums[:, 0] == 500)
    assert not np.array_equal(a.sums[:, 2], run_task(spec, 1, 1).sums[:, 2])
    assert a.steps > 0


def test_homogeneous_medium_gives_kappa_within_errors() -> None:
    # κ = 1 everywhere: ⟨Δx²⟩ = 2t exactly, so κ̄(t) = 1; Δx ~ N(0, 2t) gives var(Δx²) = 8t².
    spec = _spec()
    r = run_task(spec, 0, 0)
    t = np.asarray(spec.output_times())
    kappa = r.sums[:, 2] / r.sums[:, 0] / (2 * t)
    sigma = np.sqrt(8.0 * t**2 / 1000) / (2 * t)
    assert np.all(np.abs(kappa - 1.0) < 4 * sigma)
    assert r.kappa_A == pytest.approx(1.0) and r.kappa_H == pytest.approx(1.0)


def test_random_media_differ_between_tasks() -> None:
    spec = _spec(medium={
        "length": 200.0,
        "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 2.5, "l_min": 1.0,
                                           "l_max": 20.0}},
        "low": {"kappa": 0.01, "patches": {"pdf": "same"}},
    }, particles={"count": 200, "per_task": 100})
    a, b = run_task(spec, 0, 0), run_task(spec, 0, 1)
    assert (a.kappa_A, a.kappa_H) != (b.kappa_A, b.kappa_H)
    assert (a.kappa_A, a.kappa_H) == (run_task(spec, 0, 0).kappa_A, run_task(spec, 0, 0).kappa_H)


def test_reference_kernel_sums() -> None:
    # homogeneous κ = 0.5: the lattice gives ⟨Δx²⟩ = 2·0.5·t; Σ1 = 1, ΣΔx⁴ = nan
    spec = _spec(kernel="reference", medium={"patches": [[1.0, 0.5], [1.0, 0.5]]},
                 particles={"count": 2, "per_task": 1})
    r = run_task(spec, 0, 1)
    t = np.asarray(spec.output_times())
    np.testing.assert_array_equal(r.sums[:, 0], 1.0)
    np.testing.assert_allclose(r.sums[:, 2], t, rtol=1e-6)
    assert np.all(np.isnan(r.sums[:, 3])) and r.steps == 0
