"""Pure helpers of the gallery's figures: log-slopes, spec merging, the specs themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_service.gallery import GALLERY, merge, specs_of
from patchwalk_service.gallery_figures import expected_slope, log_slope


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


def test_fig4_stops_particles_at_escape_at_both_sizes() -> None:
    """Fig. 4 reads the served ⟨1/τ⟩, so its particles stop at L_esc (escape.stop)."""
    from patchwalk_client.spec import parse_spec

    for quick in (True, False):
        for spec in specs_of("fig4", quick):
            assert parse_spec(spec).escape.stop, quick
