"""Run to a tolerance (patchwalk_worker.tolerance): the stopping rule on hand-made sums, and a
real store driven in different task orders and with a restart, giving the same bits."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from patchwalk_client.errors import SpecError
from patchwalk_client.spec import parse_spec
from patchwalk_worker.execute import execute_task
from patchwalk_worker.results import read_results
from patchwalk_worker.store import SweepStore
from patchwalk_worker.summary import combine_kappa
from patchwalk_worker.tolerance import decide, max_tasks

BASE: dict[str, Any] = {
    "name": "tol", "seed": 4,
    "medium": {"length": 400.0,
               "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 2.5,
                                                  "l_min": 1.0, "l_max": 20.0}},
               "low": {"kappa": 0.01, "patches": {"pdf": "same"}}},
    "particles": {"count": 100, "per_task": 50, "target_rel_err": 0.1, "max_count": 1500},
    "times": {"min": 0.1, "max": 100.0, "count": 6},
    "sweep": {"energy": [1.0, 4.0]},
}


def _sums(rng: np.random.Generator, k: int, t: np.ndarray, spread: float) -> np.ndarray:
    """k tasks of 10 particles with ⟨Δx²⟩ = 2t·(1 ± spread) each."""
    s = np.zeros((k, t.shape[0], 5))
    s[:, :, 0] = 10.0
    s[:, :, 2] = 10.0 * 2.0 * t * (1.0 + spread * rng.standard_normal((k, 1)))
    return s


def test_stops_at_the_first_prefix_below_the_target() -> None:
    spec = parse_spec({**BASE, "sweep": {}})
    t = np.asarray(spec.output_times())
    sums = _sums(np.random.default_rng(1), 30, t, 0.3)
    rel = [float(np.max(combine_kappa(sums[:k], t).kappa_err / 1.0 * 1.0
                        / np.abs(combine_kappa(sums[:k], t).kappa))) for k in range(2, 31)]
    first = next(k for k, r in zip(range(2, 31), rel, strict=True) if r < 0.1)
    done = np.ones(30, dtype=bool)
    d = decide(spec, sums, done, t)
    assert (d.tasks, d.stopped, d.reached) == (first, True, True)
    assert d.rel_err < 0.1 and d.limiting_time in t
    # an unfinished task before the stop hides everything after it: the next batch is asked
    done[first - 1] = False
    d2 = decide(spec, sums, done, t)
    assert not d2.stopped and d2.tasks >= first and (d2.tasks - 2) % 2 == 0


def test_max_count_and_target_times() -> None:
    spec = parse_spec({**BASE, "sweep": {}, "particles": {**BASE["particles"],
                                                          "target_rel_err": 1e-4}})
    t = np.asarray(spec.output_times())
    k_max = max_tasks(spec)
    assert k_max == 30
    sums = _sums(np.random.default_rng(2), k_max, t, 0.3)
    d = decide(spec, sums, np.ones(k_max, dtype=bool), t)
    assert (d.tasks, d.stopped, d.reached) == (k_max, True, False) and d.rel_err > 1e-4
    late = parse_spec({**BASE, "sweep": {}, "particles": {**BASE["particles"],
                                                          "target_times": [100.0]}})
    sums[:, -1, 2] = 10.0 * 2.0 * 100.0  # no spread at t = 100: met at the first prefix
    d = decide(late, sums, np.ones(k_max, dtype=bool), t)
    assert (d.tasks, d.reached, d.limiting_time) == (2, True, 100.0)


@pytest.mark.parametrize(("particles", "field"), [
    ({"count": 10, "max_count": 100}, "particles.max_count"),
    ({"count": 10, "target_rel_err": 0.1}, "particles.max_count"),
    ({"count": 10, "target_rel_err": 0.1, "max_count": 5}, "particles.max_count"),
    ({"count": 10, "target_rel_err": 0.1, "max_count": 50, "target_times": [3.3]},
     "particles.target_times"),
    ({"count": 10, "target_rel_err": 1.5, "max_count": 50}, "particles.target_rel_err"),
])
def test_bad_tolerance_fields_are_named(particles: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as exc:
        parse_spec({**BASE, "particles": particles})
    assert field in [e["loc"] for e in exc.value.errors], exc.value.errors


def _drive(path: Path, order: str, restart_after: int | None = None) -> SweepStore:
    """The scheduler's rule: run the pending tasks (in some order), then ask again."""
    spec = parse_spec(BASE)
    store = SweepStore.create_or_open(path, spec)
    ran = 0
    while True:
        pending = store.pending()
        if not pending:
            break
        if order == "reversed":
            pending = pending[::-1]
        elif order == "shuffled":
            random.Random(ran).shuffle(pending)
        for point, task in pending:
            execute_task(str(path), point, task)
            ran += 1
            if restart_after is not None and ran == restart_after:
                store = SweepStore.create_or_open(path, spec)  # a new process: state from disk
                break
        store = SweepStore.open(path, mode="r+")
    assert store.complete()
    store.write_summaries()
    return store


def test_same_bits_in_any_order_and_after_a_restart(tmp_path: Path) -> None:
    a = _drive(tmp_path / "a.zarr", "in-order")
    b = _drive(tmp_path / "b.zarr", "shuffled")
    c = _drive(tmp_path / "c.zarr", "reversed", restart_after=3)
    docs = [json.loads((Path(s.path) / "results.json").read_text()) for s in (a, b, c)]
    assert docs[0] == docs[1] == docs[2]
    assert a.n_tasks == b.n_tasks == c.n_tasks
    for i, d in enumerate(a.decisions()):
        assert d.stopped and (d.reached or a.n_tasks[i] == 30)
        assert d.rel_err < 0.1 or not d.reached
    for pt, k in zip(read_results(a.path).kappa, a.n_tasks, strict=True):
        assert pt.target_rel_err == 0.1 and pt.n_tasks == k and pt.n_particles == 50 * k
        assert pt.limiting_time in pt.t and pt.target_reached is True
        err = np.asarray(pt.kappa_err, dtype=float) / np.abs(np.asarray(pt.kappa, dtype=float))
        assert np.max(err) == pytest.approx(pt.rel_err, rel=1e-12) and np.max(err) < 0.1
    ra, rb = a.read_point(0), c.read_point(0)
    assert ra["sums"].tobytes() == rb["sums"].tobytes()
    assert min(a.n_tasks) > 2  # the target really added realisations
