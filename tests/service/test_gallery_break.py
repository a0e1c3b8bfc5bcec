"""The break-energy fit of the gallery's Fig. 4 (beyond the paper): recovery and error coverage."""

from __future__ import annotations

import math

import numpy as np
from patchwalk_service.gallery_break import eq8_break, fit_break

E = np.geomspace(0.1, 10.0, 9)


def _rates(a: float, b: float) -> np.ndarray:
    return np.asarray(a * E**0.5 + b * E**2.0)


def test_exact_rates_give_the_exact_break() -> None:
    fit = fit_break(E, _rates(0.3, 0.05), 0.01 * _rates(0.3, 0.05), 0.5, 2.0)
    assert math.isclose(fit.energy, (0.3 / 0.05) ** (1 / 1.5), rel_tol=1e-10)
    assert fit.chi2 < 1e-20


def test_break_error_covers_the_truth() -> None:
    rng = np.random.default_rng(11)
    truth = (0.3 / 0.05) ** (1 / 1.5)
    exact = _rates(0.3, 0.05)
    err = 0.08 * exact
    z = []
    for _ in range(400):
        fit = fit_break(E, exact + err * rng.standard_normal(E.size), err, 0.5, 2.0)
        z.append((fit.energy - truth) / fit.energy_err)
    cover = float(np.mean(np.abs(np.array(z)) <= 2.0))
    assert 0.9 <= cover <= 0.99, cover


def test_no_break_when_one_term_vanishes() -> None:
    fit = fit_break(E, _rates(0.3, 0.0) * (1 - 0.01 * E), 0.01 * _rates(0.3, 0.0), 0.5, 2.0)
    assert math.isnan(fit.energy)


def test_eq8_break_is_where_the_two_terms_cross() -> None:
    e_b = eq8_break(lambda e: (0.01 * e**2, 0.2 * e**0.5))
    assert math.isclose(e_b, 20.0 ** (1 / 1.5), rel_tol=1e-9)
    assert math.isnan(eq8_break(lambda e: (1.0 * e**2, 1e-9 * e**0.5)))
