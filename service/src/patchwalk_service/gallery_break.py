"""Beyond the paper, in the gallery: the energy of Fig. 4's break as a function of α.

Eq. (8) adds the escape rates of two populations, κ_high(E) f_L and κ_H(E)(1 − f_L) (over
L_esc²): with κ_high ∝ E^β_high and κ_H ≈ κ_low ∝ E^β_low the measured rate is a broken power
law, index β_low below the break and β_high above it. The break energy E_b, where the two
terms are equal, depends on the medium only through f_L = f_{l > L_esc}, i.e. through α.

Measured: the weighted least-squares fit r(E) = A E^β_low + B E^β_high (linear in A, B) of the
rates of one α, E_b = (A/B)^{1/(β_high − β_low)}, its error propagated from the fit's
covariance (scaled by χ²/dof when that exceeds 1). Predicted: the root of
κ_high(E) f_L = κ_H(E)(1 − f_L) (eq. 8 as printed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BreakFit:
    """r(E) = A E^lo + B E^hi fitted to one α's rates, and the break energy (A/B)^{1/(hi−lo)}."""

    a: float
    b: float
    cov: np.ndarray
    chi2: float
    dof: int
    energy: float
    energy_err: float


def fit_break(e: np.ndarray, rate: np.ndarray, err: np.ndarray, lo: float,
              hi: float) -> BreakFit:
    """Fit ``rate = A e^lo + B e^hi`` (weights 1/err²) and return the break energy with its error.

    The break energy's error is first-order propagation, d ln E_b = (d ln A − d ln B)/(hi − lo),
    from the covariance of (A, B), inflated by √(χ²/dof) when the fit is worse than its errors.
    A break outside the fitted energies is returned as measured (the caller decides whether it
    is an extrapolation); A ≤ 0 or B ≤ 0 gives NaN.
    """
    e, rate, err = (np.asarray(x, dtype=np.float64) for x in (e, rate, err))
    design = np.stack([e**lo, e**hi], axis=1) / err[:, None]
    target = rate / err
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    resid = target - design @ coef
    chi2 = float(resid @ resid)
    dof = max(int(e.size) - 2, 1)
    cov = cov * max(1.0, chi2 / dof)
    a, b = float(coef[0]), float(coef[1])
    if a <= 0 or b <= 0:
        return BreakFit(a, b, cov, chi2, dof, math.nan, math.nan)
    grad = np.array([1.0 / a, -1.0 / b]) / (hi - lo)
    e_b = (a / b) ** (1.0 / (hi - lo))
    d_ln = math.sqrt(float(grad @ cov @ grad))
    return BreakFit(a, b, cov, chi2, dof, e_b, e_b * d_ln)


def eq8_break(terms: Callable[[float], tuple[float, float]], lo: float = 1e-4,
              hi: float = 1e4) -> float:
    """Energy where eq. (8)'s two terms are equal: ``terms(E) = (κ_high f_L, κ_H (1 − f_L))``.

    Bisection in ln E on [lo, hi] (the fast term grows faster with E than the slow one); NaN
    when there is no crossing in the bracket.
    """
    def gap(x: float) -> float:
        fast, slow = terms(math.exp(x))
        return math.log(fast) - math.log(slow)

    a, b = math.log(lo), math.log(hi)
    if not gap(a) < 0 < gap(b):
        return math.nan
    for _ in range(80):
        m = 0.5 * (a + b)
        if gap(m) < 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))
