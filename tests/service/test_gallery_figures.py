"""Pure helpers of the gallery's figures: ⟨1/τ⟩ from F(t), log-slopes, spec merging."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_service.gallery import GALLERY, merge, specs_of
from patchwalk_service.gallery_figures import expected_slope, log_slope, mean_inverse_time


def _lognormal_cdf(t: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (1 + math.erf(math.log(x) / math.sqrt(2))) for x in t])


@pytest.mark.parametrize("step", [0.05, 1 / 3])
def test_mean_inverse_time_of_known_laws(step: float) -> None:
    """τ uniform on [1, 3]: ⟨1/τ⟩ = ln 3 / 2; τ log-normal(0, 1): ⟨1/τ⟩ = e^½ — within the
    returned error (interpolation + binomial) on grids of 1/20 and 1/3 decade."""
    t = 10 ** np.arange(-1, 2.01, step)
    got, err = mean_inverse_time(t, np.clip((t - 1) / 2, 0, 1), 10**6)
    assert abs(got - math.log(3) / 2) <= max(err, 1e-3)
    t = 10 ** np.arange(-3, 3.01, step)
    got, err = mean_inverse_time(t, _lognormal_cdf(t), 10**6)
    assert abs(got - math.exp(0.5)) <= max(err, 1e-3)


def test_log_slope_and_eq7_exponents() -> None:
    t = np.logspace(-2, 4, 30)
    assert log_slope(t, 3 * t**-0.25, 1.0, 1e3) == pytest.approx(-0.25)
    assert math.isnan(log_slope(t, t, 1e5, 1e6))
    assert expected_slope(3.0) == -0.5 and expected_slope(4.5) == -1.0
    assert math.isnan(expected_slope(1.5))


def test_every_gallery_spec_loads_at_both_sizes() -> None:
    from patchwalk_client.spec import parse_spec

    for name in GALLERY:
        for quick in (True, False):
            for spec in specs_of(name, quick):
                assert parse_spec(spec).name.startswith("gallery-"), name
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {"a": {"c": 2, "d": 3}}
