"""Patch-length pdfs: sampled moments against the analytic ones within k·σ."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_worker.patches import (
    Exponential,
    Narrow,
    PowerLaw,
    filling_fraction,
    pdf_from_spec,
)

PDFS = [
    PowerLaw(3.0, 1.0, 1000.0),
    PowerLaw(2.0, 1.0, 100.0),
    PowerLaw(1.0, 0.5, 50.0),
    PowerLaw(0.5, 1.0, 10.0),
    PowerLaw(-1.0, 1.0, 3.0),
    PowerLaw(2.5, 1.0, math.inf),
    PowerLaw(1.0 + 1e-10, 1.0, 100.0),
    Narrow(10.0, 4.0),
    Exponential(3.0, 1.0),
    Exponential(2.0),
]


def _quad_moment(pdf, n: float) -> float:
    """⟨lⁿ⟩ by brute-force quadrature of the pdf's survival function (independent route)."""
    hi = pdf.l_max if math.isfinite(pdf.l_max) else 1e14 * pdf.moment(1)
    if pdf.l_min > 0:
        x = np.geomspace(pdf.l_min, hi, 400_001)
    else:
        x = np.concatenate([[0.0], np.geomspace(1e-9, hi, 400_000)])
    dens = -np.gradient(pdf.survival(x), x)
    y = x**n * dens
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


@pytest.mark.parametrize("pdf", PDFS, ids=repr)
def test_normalised_and_quadrature_moments(pdf) -> None:
    assert pdf.moment(0) == pytest.approx(1.0, rel=1e-12)
    assert float(pdf.survival(pdf.l_min)) == pytest.approx(1.0, rel=1e-12)
    for n in (1.0, 2.0):
        if not math.isfinite(pdf.moment(n)):
            continue
        assert pdf.moment(n) == pytest.approx(_quad_moment(pdf, n), rel=2e-3)


@pytest.mark.parametrize("pdf", PDFS, ids=repr)
def test_sampled_moments_within_k_sigma(pdf) -> None:
    rng = np.random.default_rng(12345)
    n = 200_000
    x = pdf.sample(rng, n)
    assert x.min() >= pdf.l_min and x.max() <= pdf.l_max
    for p in (1.0, 0.5):
        mean = pdf.moment(p)
        var = pdf.moment(2 * p) - mean**2
        if not math.isfinite(var):
            continue
        se = math.sqrt(var / n)
        assert abs(np.mean(x**p) - mean) < 5 * se + 1e-12 * mean
    # the CDF itself: fraction below the analytic median-ish point
    q = float(np.median(x))
    s = float(pdf.survival(q))
    assert abs(s - 0.5) < 5 * math.sqrt(0.25 / n)


def test_partial_moments_add_up() -> None:
    pdf = PowerLaw(2.0, 1.0, 100.0)
    a = pdf.partial_moment(1, 1.0, 10.0) + pdf.partial_moment(1, 10.0, 100.0)
    assert float(a) == pytest.approx(pdf.moment(1), rel=1e-12)
    # alpha = 2: <l> = ln(l_max/l_min) / (1/l_min - 1/l_max)
    assert pdf.moment(1) == pytest.approx(math.log(100) / (1 - 0.01), rel=1e-12)
    e = Exponential(3.0, 1.0)
    assert e.moment(3) == pytest.approx(1 + 3 * 2 + 6 * 4 + 6 * 8, rel=1e-12)  # E(1+X)^3
    assert e.moment(2.5) == pytest.approx(_quad_moment(e, 2.5), rel=2e-3)


def test_spec_adapter_and_errors() -> None:
    assert pdf_from_spec({"pdf": "narrow", "mean": 2.0, "width": 1.0}) == Narrow(2.0, 1.0)
    with pytest.raises(ValueError, match="l_max"):
        PowerLaw(0.5, 1.0, math.inf)
    with pytest.raises(ValueError, match="width"):
        Narrow(1.0, 3.0)
    with pytest.raises(ValueError, match="same"):
        pdf_from_spec({"pdf": "same"})
    assert filling_fraction(Narrow(9.0, 1.0), Narrow(1.0, 0.5)) == pytest.approx(0.1)
