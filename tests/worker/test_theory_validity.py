"""Theory curves are null outside the range the paper derives them for, with the reason."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from patchwalk_client.spec import validate_spec
from patchwalk_worker.theory import escape_rate_8, f_longer_than, theory_curves
from patchwalk_worker.theory_validity import escape_rate_8_values, validated_curves


def _spec(alpha: float, **extra: Any) -> Any:
    return validate_spec({
        "name": "v", "seed": 1,
        "medium": {"length": 2000.0,
                   "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": alpha,
                                                      "l_min": 1.0, "l_max": 100.0}},
                   "low": {"kappa": 0.01, "patches": {"pdf": "same"}}},
        "particles": {"count": 10, "per_task": 10},
        "times": {"min": 0.01, "max": 1e4, "count": 7}, **extra})


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.5])
def test_eq7_and_c7_outside_their_range_are_nan(alpha: float) -> None:
    spec = _spec(alpha)
    t = np.asarray(spec.output_times())
    raw = theory_curves(spec, t)
    curves, ranges = validated_curves(spec, t, raw)
    k_h = raw["kappa_H"][0]
    s7 = curves["scaling_7"]
    # the raw formula says something outside the range (15.8-like values, or exactly 0) ...
    outside = (t < 1.0 - 1e-9) | (t > 1e4 * (1 + 1e-9)) | (raw["scaling_7"] < k_h)
    assert np.all(np.isnan(s7[outside])) and np.array_equal(s7[~outside],
                                                            raw["scaling_7"][~outside])
    assert ranges["scaling_7"]["t_min"] == 1.0 and ranges["scaling_7"]["t_max"] == 1e4
    assert "eq. (7)" in ranges["scaling_7"]["reason"]
    if alpha <= 2:
        assert raw["scaling_7"][-1] == 0.0 and math.isnan(s7[-1])  # exactly 0 at t = 1e4
    else:
        assert raw["scaling_7"][0] > raw["kappa_A"][0] and math.isnan(s7[0])  # above κ_A
    c7 = curves["c7"]
    assert np.all(np.isnan(c7[raw["c7"] < k_h])) and np.all(c7[~np.isnan(c7)] >= k_h)
    assert np.any(raw["c7"] < k_h)  # C7 does fall below κ_H in this medium
    # curves valid at every t are untouched
    assert np.array_equal(curves["progressive_harmonic_mean"], raw["progressive_harmonic_mean"])
    assert ranges["kappa_A"]["t_min"] is None and ranges["kappa_A"]["t_max"] is None


def test_short_time_stops_at_l_min_squared_over_2_kappa_max() -> None:
    spec = _spec(2.5)
    t = np.asarray(spec.output_times())
    curves, ranges = validated_curves(spec, t, theory_curves(spec, t))
    assert ranges["short_time"]["t_max"] == 0.5
    assert np.all(np.isnan(curves["short_time"][t > 0.5]))
    assert not np.any(np.isnan(curves["short_time"][t <= 0.5]))


def test_eq8_at_the_escape_distances() -> None:
    spec = _spec(1.5, escape={"distances": [2.0, 20.0]})
    from patchwalk_worker.media import phase_pdfs

    high, low = phase_pdfs(spec)
    d = np.array([2.0, 20.0])
    got = escape_rate_8_values(spec, d)
    f = f_longer_than(d, high, low)
    k_h = 1.0 / (0.5 / 0.01 + 0.5 / 1.0)  # same pdfs: f = 1/2
    assert got is not None
    assert np.allclose(got, escape_rate_8(d, 1.0, k_h, f), rtol=1e-12)
    explicit = validate_spec({"medium": {"patches": [[1.0, 1.0], [1.0, 0.1]]},
                              "particles": {"count": 1, "per_task": 1},
                              "times": {"min": 0.1, "max": 1.0, "count": 2}})
    assert escape_rate_8_values(explicit, d) is None
