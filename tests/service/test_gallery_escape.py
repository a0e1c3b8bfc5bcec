"""The break-energy fit of the gallery's Fig. 4 (beyond the paper): recovery and error coverage."""

from __future__ import annotations

import math

import numpy as np
from patchwalk_service.gallery_escape import break_energy, fit_two_terms, measured_break

E = np.geomspace(0.1, 10.0, 9)


def _terms(e: float) -> tuple[float, float]:  # fast ∝ E², slow ∝ E^½ (eq. 8's shapes)
    return 0.01 * e**2, 0.2 * e**0.5


FAST, SLOW = (np.array([_terms(e)[i] for e in E]) for i in (0, 1))


def test_eq8_break_is_where_the_two_terms_cross() -> None:
    assert math.isclose(break_energy(_terms), 20.0 ** (1 / 1.5), rel_tol=1e-9)
    assert math.isnan(break_energy(lambda e: (1.0 * e**2, 1e-9 * e**0.5)))
    assert math.isnan(break_energy(_terms, ratio=-1.0))


def test_exact_rates_give_the_exact_break() -> None:
    rate = 3.0 * SLOW + 0.5 * FAST
    fit = fit_two_terms(rate, 0.01 * rate, SLOW, FAST)
    assert math.isclose(fit.a, 3.0, rel_tol=1e-10) and math.isclose(fit.b, 0.5, rel_tol=1e-10)
    e_b, _ = measured_break(fit, _terms)  # 3 · 0.2 e^½ = 0.5 · 0.01 e²
    assert math.isclose(e_b, (3.0 * 0.2 / (0.5 * 0.01)) ** (1 / 1.5), rel_tol=1e-9)


def test_break_error_covers_the_truth() -> None:
    rng = np.random.default_rng(11)
    exact = 3.0 * SLOW + 0.5 * FAST
    truth = (3.0 * 0.2 / (0.5 * 0.01)) ** (1 / 1.5)
    err = 0.08 * exact
    z = []
    for _ in range(400):
        fit = fit_two_terms(exact + err * rng.standard_normal(E.size), err, SLOW, FAST)
        e_b, e_err = measured_break(fit, _terms)
        z.append((e_b - truth) / e_err)
    cover = float(np.mean(np.abs(np.array(z)) <= 2.0))
    assert 0.9 <= cover <= 0.99, cover


def test_no_break_without_a_fast_term() -> None:
    rate = 3.0 * SLOW * (1 - 0.01 * E)
    fit = fit_two_terms(rate, 0.01 * rate, SLOW, FAST)
    assert fit.b < 0 and math.isnan(measured_break(fit, _terms)[0])
