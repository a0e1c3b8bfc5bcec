"""Budget estimates against the step rules written out by hand (eqs D3–D5 and the exact
kernel's safety rule), and the feasibility checks."""

from __future__ import annotations

import math
from typing import Any

import pytest
from patchwalk_client.spec import SweepSpec, load_spec
from patchwalk_worker import budget
from patchwalk_worker.kernels import pitch, reference
from patchwalk_worker.kernels.registry import get_kernel


def spec(**over: Any) -> SweepSpec:
    d: dict[str, Any] = {
        "kernel": "euler",
        "medium": {
            "length": 2000.0,
            "high": {"kappa": 2.0, "beta": 1.0,
                     "patches": {"pdf": "power_law", "alpha": 2.5, "l_min": 0.5, "l_max": 20.0}},
            "low": {"kappa": 1e-2, "beta": 0.5,
                    "patches": {"pdf": "narrow", "mean": 3.0, "width": 1.0}},
        },
        "particles": {"count": 1000, "per_task": 100},
        "times": {"min": 0.1, "max": 500.0, "count": 10},
    }
    for path, value in over.items():
        keys = path.split("__")
        node = d
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return load_spec(d)


@pytest.mark.parametrize("energy", [1.0, 4.0])
def test_euler_steps_follow_d3(energy: float) -> None:
    s = spec(energy=energy, euler__courant=2e-3)
    k_max = max(2.0 * energy**1.0, 1e-2 * energy**0.5)
    l_min = 0.5  # power-law l_min < narrow mean - width/2 = 2.5
    dt = 2e-3 * l_min**2 / k_max
    assert get_kernel("euler").dt(s) == pytest.approx(dt, rel=1e-12)
    assert budget.estimate_steps(s) == pytest.approx(1000 * 500.0 / dt, rel=1e-12)


def test_shortest_patch_from_narrow_pdf() -> None:
    s = spec(medium__high__patches={"pdf": "narrow", "mean": 4.0, "width": 2.0})
    # shortest patch: min(4 - 1, 3 - 0.5) = 2.5
    assert get_kernel("euler").dt(s) == pytest.approx(1e-3 * 2.5**2 / 2.0, rel=1e-12)


def test_pitch_steps_and_mean_free_path() -> None:
    v = 100.0
    s = spec(kernel="pitch", pitch__v=v, pitch__courant=0.1, energy=2.0)
    k_min = 1e-2 * 2.0**0.5
    k_max = 2.0 * 2.0
    sigma_max = v**2 / (2 * k_min)
    dt = 0.1 / sigma_max
    assert get_kernel("pitch").dt(s) == pytest.approx(dt, rel=1e-12)
    assert budget.estimate_steps(s) == pytest.approx(1000 * 500.0 / dt, rel=1e-12)
    assert pitch.mean_free_path(s) == pytest.approx(2 * k_max / v, rel=1e-12)
    assert budget.check_feasible(s) == []
    slow = spec(kernel="pitch", pitch__v=1.0)
    (err,) = budget.check_feasible(slow)
    assert err["loc"] == "pitch.v"
    assert f"{2 * 2.0 / 0.5:g}" in err["msg"]  # the v that would do: 2 kappa_max / l_min


def test_exact_steps_upper_bound() -> None:
    s = spec(kernel="exact", exact__safety=4.0)
    dt = (0.5 / 4.0) ** 2 / (2 * 2.0)
    assert get_kernel("exact").dt(s) == pytest.approx(dt, rel=1e-12)
    assert budget.estimate_steps(s) == pytest.approx(1000 * (10 + 500.0 / dt), rel=1e-12)
    # in 2D the strip height can bound the step instead
    s2 = spec(kernel="exact", dimensions=2, medium__kappa_perp=0.5, medium__l_perp=0.1)
    dt2 = min((0.5 / 8.0) ** 2 / (2 * 2.0), (0.1 / 8.0) ** 2 / (2 * 0.5))
    assert get_kernel("exact").dt(s2) == pytest.approx(dt2, rel=1e-12)


def test_reference_cells_and_work() -> None:
    s = spec(kernel="reference", reference__cells_per_l_min=16)
    cells = math.ceil(2000.0 / 0.5 * 16)
    assert reference.reference_cells(s) == cells
    assert budget.estimate_steps(s) == cells * 10
    errs = budget.check_feasible(s, max_bytes=8.0 * reference.REFERENCE_ARRAYS * cells - 1)
    assert [e["loc"] for e in errs] == ["reference.cells_per_l_min"]
    dense = spec(kernel="reference", reference__method="eigen")
    errs = budget.check_feasible(dense, max_bytes=1e9)
    assert errs and "contour" in errs[0]["msg"]


def test_medium_bytes_from_mean_patch_length() -> None:
    s = spec()
    a, lo, hi = 2.5, 0.5, 20.0
    mean_high = ((a - 1) / (2 - a) * (hi ** (2 - a) - lo ** (2 - a))
                 / (lo ** (1 - a) - hi ** (1 - a)))
    expected = 16 * 2000.0 / ((mean_high + 3.0) / 2)
    assert budget.medium_bytes(s) == pytest.approx(expected, rel=1e-12)
    errs = budget.check_feasible(s, max_bytes=expected / 2)
    assert [e["loc"] for e in errs] == ["medium.length"]
    s2 = spec(dimensions=2, medium__kappa_perp=0.0, medium__l_perp=1.0, medium__strips=7)
    assert budget.medium_bytes(s2) == pytest.approx(7 * expected, rel=1e-12)


def test_explicit_medium() -> None:
    s = load_spec({"kernel": "euler", "medium": {"patches": [[1.0, 1.0], [0.5, 0.02], [2.0, 0.5]]},
                   "particles": {"count": 10}, "times": {"min": 1.0, "max": 10.0}, "energy": 5.0})
    # explicit patches carry no beta: no energy scaling; l_min = 0.5, kappa_max = 1
    assert get_kernel("euler").dt(s) == pytest.approx(1e-3 * 0.25 / 1.0, rel=1e-12)
    assert s.medium.period() == 3.5
    assert budget.medium_bytes(s) == 48
    assert budget.check_feasible(s) == []
