"""The cost model (patchwalk_worker.cost) against real runs: estimate/measured in [0.5, 2] for
particle-steps and for CPU seconds, on a table of small specs of every particle kernel."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from patchwalk_client.spec import SweepSpec, parse_spec
from patchwalk_worker import cost
from patchwalk_worker.task import n_tasks, run_task

POWER = {"pdf": "power_law", "alpha": 2.5, "l_min": 1.0, "l_max": 50.0}


def _spec(**over: Any) -> SweepSpec:
    d: dict[str, Any] = {
        "seed": 3, "kernel": "exact",
        "medium": {"length": 3000.0, "high": {"kappa": 1.0, "patches": POWER},
                   "low": {"kappa": 1e-3, "patches": {"pdf": "same"}}},
        "particles": {"count": 400, "per_task": 100},
        "times": {"min": 0.01, "max": 1e4, "count": 20},
    }
    for key, value in over.items():
        node = d
        *head, last = key.split("__")
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return parse_spec(d)


#: (id, spec): each real run takes well under 2 s on one core.
TABLE = [
    ("exact-power-law-2.5", _spec()),
    ("exact-power-law-1.5", _spec(medium__high__patches={**POWER, "alpha": 1.5})),
    ("exact-escape", _spec(escape={"distances": [5.0, 20.0]}, times__max=2e3)),
    ("exact-explicit", _spec(medium={"patches": [[1.0, 1.0], [0.5, 0.01], [2.0, 0.3]]},
                             times__max=300.0)),
    ("exact-long-horizon", _spec(particles={"count": 40, "per_task": 20}, times__max=3e5)),
    ("exact-2d", _spec(dimensions=2, medium__kappa_perp=1e-2, medium__l_perp=1.0,
                       medium__strips=20, particles={"count": 100, "per_task": 50},
                       times__max=300.0)),
    ("euler", _spec(kernel="euler", medium__low__kappa=0.1, times__max=30.0,
                    particles={"count": 400, "per_task": 200}, euler={"courant": 1e-3})),
    ("pitch", _spec(kernel="pitch", medium__low__kappa=0.1, times__max=20.0,
                    particles={"count": 100, "per_task": 50}, pitch={"v": 5.0})),
    # escape.stop: the estimate charges each particle its steps until escape, not to t_max
    # (benchmarks/bench_escape_stop.py has the wider table)
    ("exact-stop", _spec(medium__low__kappa=1e-2, escape={"distances": [5.0, 20.0],
                                                          "stop": True})),
    ("exact-2d-stop", _spec(dimensions=2, medium__kappa_perp=1e-2, medium__l_perp=1.0,
                            medium__strips=20, medium__low__kappa=1e-2,
                            particles={"count": 100, "per_task": 50}, times__max=3e3,
                            escape={"distances": [2.0, 5.0], "stop": True})),
    ("euler-stop", _spec(kernel="euler", times__max=300.0,
                         medium={"patches": [[1.0, 1.0], [3.0, 0.1], [2.0, 1.0], [1.5, 0.1]]},
                         escape={"distances": [2.0, 5.0], "stop": True})),
    ("pitch-stop", _spec(kernel="pitch", medium__low__kappa=0.1, times__max=300.0,
                         particles={"count": 100, "per_task": 50}, pitch={"v": 5.0},
                         escape={"distances": [2.0, 5.0], "stop": True})),
]


def _measure(spec: SweepSpec) -> tuple[float, float]:
    steps = 0
    c0 = time.thread_time()  # CPU time of this thread: the kernels run here, serially
    for k in range(n_tasks(spec)):
        steps += run_task(spec, 0, k).steps
    return float(steps), time.thread_time() - c0


@pytest.mark.parametrize(("name", "spec"), TABLE, ids=[t[0] for t in TABLE])
def test_estimate_within_2x_of_measured(name: str, spec: SweepSpec) -> None:
    run_task(spec, 0, 0)  # compile / load the kernel before timing anything
    est = cost.point_cost(spec, 0)
    steps, wall = _measure(spec)
    assert est.tasks == n_tasks(spec)
    print(f"{name}: predicted {est.steps:.4g} steps, measured {steps:.4g}")
    assert 0.5 <= est.steps / steps <= 2.0, (name, est.steps, steps)
    kernel_cpu = est.cpu_seconds - est.tasks * cost.TASK_OVERHEAD_S
    assert 0.5 <= kernel_cpu / wall <= 2.0, (name, kernel_cpu, wall, est.ns_per_step)
    bound = cost.cost_bound(spec)  # what lets `patchwalk run` skip the pilot: never below
    assert bound is not None and bound >= 5.0 * max(wall, est.cpu_seconds), (name, bound, wall)


def test_pilot_is_deterministic_and_seeded_apart() -> None:
    spec = _spec()
    a, b = cost.point_cost(spec, 0), cost.point_cost(spec, 0)
    assert a.steps == b.steps and a.source == "pilot"
    assert cost.point_cost(spec, 1).steps != a.steps  # point 1: its own medium and particles
    state = cost.pilot_state(3, 0)
    from patchwalk_worker.rng import task_state

    assert not np.array_equal(state, task_state(3, 0, 0))  # not any task's particle stream


def test_extrapolation_of_a_long_horizon_stays_within_the_pilot_budget() -> None:
    spec = _spec(particles={"count": 2000, "per_task": 500}, times__max=1e7)
    c0 = time.perf_counter()
    est = cost.point_cost(spec, 0)
    assert time.perf_counter() - c0 < 5.0
    # per-particle steps of eight particles really run to 1e6 bound the 1e7 rate from below
    short = _spec(particles={"count": 8, "per_task": 8}, times__max=1e6)
    s_short, _ = _measure(short)
    assert est.steps / 2000 > 5 * s_short / 8


@pytest.mark.parametrize("kernel", ["exact", "euler"])
def test_a_huge_count_is_estimated_in_constant_time(kernel: str) -> None:
    spec = _spec(kernel=kernel, medium__low__kappa=0.1, times__max=10.0,
                 particles={"count": 10**12 + 3, "per_task": 10**9})
    c0 = time.perf_counter()
    est = cost.point_cost(spec, 0)
    assert time.perf_counter() - c0 < 10.0
    assert est.tasks == 1001
    small = cost.point_cost(_spec(kernel=kernel, medium__low__kappa=0.1, times__max=10.0,
                                  particles={"count": 1000, "per_task": 1000}), 0)
    assert est.steps / (10**12 + 3) == pytest.approx(small.steps / 1000, rel=0.5)


def test_bound_covers_a_first_passage_solve_that_dominates_the_task() -> None:
    """A long medium, three escape distances, two particles: the task is the exact solve."""
    spec = _spec(medium__length=2e5, particles={"count": 2, "per_task": 2}, times__max=10.0,
                 escape={"distances": [5.0, 20.0, 100.0]})
    run_task(spec, 0, 0)  # compile / load first
    _, wall = _measure(spec)
    bound = cost.cost_bound(spec)
    assert bound is not None and bound >= 5.0 * wall, (bound, wall)
    est = cost.point_cost(spec, 0)  # the pilot times the solve once, after a tiny warm-up
    assert 0.5 <= est.cpu_seconds / wall <= 2.0, (est.cpu_seconds, wall)


def test_reference_has_no_bound_its_cost_is_measured() -> None:
    spec = _spec(kernel="reference", medium__length=200.0, times__max=10.0)
    assert cost.cost_bound(spec) is None


def test_stop_is_not_charged_for_t_max() -> None:
    """A Fig. 4 point (examples/gallery/fig4.toml, α = 1.5, E = 5.6, t_max = 1e7): without
    escape.stop every particle walks to t_max; with it the estimate follows the steps until
    escape (within 2× of the run) and is > 100× below."""
    from pathlib import Path

    from patchwalk_client.spec import load_spec

    path = Path(__file__).resolve().parents[2] / "examples" / "gallery" / "fig4.toml"
    d = load_spec(path).model_dump(mode="json")
    d.update(sweep={}, energy=5.623, particles={"count": 100, "per_task": 100})
    d["medium"]["high"]["patches"]["alpha"] = 1.5
    stop = parse_spec(d)
    assert stop.escape.stop
    d["escape"]["stop"] = False
    plain = cost.point_cost(parse_spec(d), 0)
    run_task(stop, 0, 0)  # compile first
    est = cost.point_cost(stop, 0)
    steps, _ = _measure(stop)
    print(f"fig4 point: stop predicted {est.steps:.4g}, measured {steps:.4g}; "
          f"without stop predicted {plain.steps:.4g}")
    assert 0.5 <= est.steps / steps <= 2.0
    assert plain.steps > 100 * est.steps
