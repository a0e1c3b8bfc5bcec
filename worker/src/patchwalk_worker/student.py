"""Student-t quantiles for the error bars of few-task summaries (no SciPy in the worker).

The two-sided 95% quantile t_ν(0.975) for real ν ≥ 1 (the summaries use ν = K − 1 or N − 1,
but real ν are accepted). The CDF is F(t) = 1 − ½ I_x(ν/2, ½) with x = ν/(ν + t²) for t > 0, I the
regularized incomplete beta function, evaluated by Lentz's continued fraction; the quantile is
found by bisection in ln t. Results are cached on ν rounded *down* to 4 significant digits
(a smaller ν gives a larger quantile, so the rounding only widens).
"""

from __future__ import annotations

import math
from functools import lru_cache

#: Normal 97.5% quantile.
Z975 = 1.959963984540054


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        dl = d * c
        h *= dl
        if abs(dl - 1.0) < 1e-15:
            break
    return h


def beta_inc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) for a, b > 0, 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_tail(t: float, nu: float) -> float:
    """Upper tail P(T > t) of Student's t with ν degrees of freedom, t ≥ 0."""
    return 0.5 * beta_inc(0.5 * nu, 0.5, nu / (nu + t * t))


@lru_cache(maxsize=4096)
def _t975(nu: float) -> float:
    lo, hi = math.log(Z975), math.log(1e6)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if t_tail(math.exp(mid), nu) > 0.025:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return math.exp(0.5 * (lo + hi))


def t975(nu: float) -> float:
    """Two-sided 95% quantile t_ν(0.975) of Student's t (ν ≥ 1 real; ν = inf gives 1.95996).

    Raises
    ------
    ValueError
        If ν < 1 or is NaN.
    """
    if not nu >= 1.0:
        raise ValueError(f"degrees of freedom must be >= 1 (got {nu})")
    if nu > 1e7:
        return Z975
    digits = 3 - int(math.floor(math.log10(nu)))
    scale = 10.0**digits
    return _t975(math.floor(nu * scale) / scale)
