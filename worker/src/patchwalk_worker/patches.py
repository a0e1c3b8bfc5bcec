"""Patch-length pdfs of the two phases: exact sampling and analytic moments.

Three families (docs/interfaces.md §1):

* :class:`PowerLaw` — ``P(l) ∝ l^-α`` on ``[l_min, l_max]`` (eq. C5). ``l_max`` may be
  ``inf`` only for ``α > 1``; ``α = 1`` (normalisation) and ``α = 2`` (mean) and every other
  logarithmic case are handled analytically.
* :class:`Narrow` — uniform on ``[mean - width/2, mean + width/2]`` (finite width, so the
  medium is not periodic; Appendix D).
* :class:`Exponential` — ``l_min + Exp(mean - l_min)``.

Every pdf offers ``sample(rng, n)`` (exact inverse-CDF sampling), ``moment(n)`` = ⟨lⁿ⟩,
``partial_moment(n, a, b)`` = ∫_a^b lⁿ P(l) dl and ``survival(x)`` = P(l > x); the theory
(eqs 6–8, C6–C10) is written in terms of these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _power_integral(p: float, a: ArrayLike, b: ArrayLike) -> FloatArray:
    """∫_a^b l^p dl for ``0 < a <= b`` (``b = inf`` allowed for ``p < -1``), stable at p ≈ -1."""
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    q = p + 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(b_arr / a_arr)
        if q == 0.0:
            out = log_ratio
        elif abs(q) < 1e-8:
            out = log_ratio * (1.0 + 0.5 * q * log_ratio)
            out = out * np.exp(q * np.log(a_arr))
        else:
            out = np.power(a_arr, q) * np.expm1(q * log_ratio) / q
    out = np.where(b_arr <= a_arr, 0.0, out)
    return np.asarray(out, dtype=np.float64)


class PatchPdf(Protocol):
    """What the media and theory modules need from a patch-length pdf."""

    @property
    def l_min(self) -> float: ...

    @property
    def l_max(self) -> float: ...

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray: ...

    def moment(self, n: float) -> float: ...

    def partial_moment(self, n: int, a: ArrayLike, b: ArrayLike) -> FloatArray: ...

    def survival(self, x: ArrayLike) -> FloatArray: ...


@dataclass(frozen=True)
class PowerLaw:
    """Power-law patch lengths ``P(l) = C l^-α`` on ``[l_min, l_max]`` (eq. C5).

    Parameters
    ----------
    alpha : float
        Spectral index α. Any real value with finite ``l_max``; ``α > 1`` if ``l_max = inf``.
    l_min, l_max : float
        Support, ``0 < l_min < l_max <= inf``.
    """

    alpha: float
    l_min: float
    l_max: float

    def __post_init__(self) -> None:
        if not (self.l_min > 0 and self.l_max > self.l_min):
            raise ValueError(
                f"power_law needs 0 < l_min < l_max, got l_min={self.l_min}, l_max={self.l_max}"
            )
        if math.isinf(self.l_max) and self.alpha <= 1.0:
            raise ValueError(
                f"power_law with alpha={self.alpha} <= 1 is not normalisable with l_max=inf; "
                "give a finite l_max or alpha > 1"
            )

    @property
    def _norm(self) -> float:
        return float(_power_integral(-self.alpha, self.l_min, self.l_max))

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """Draw ``n`` lengths by exact inverse-CDF sampling."""
        u = rng.random(n)
        q = 1.0 - self.alpha
        log_ratio = math.log(self.l_max / self.l_min)
        if q == 0.0:
            return np.asarray(self.l_min * np.exp(u * log_ratio), dtype=np.float64)
        span = math.expm1(q * log_ratio) if math.isfinite(log_ratio) else -1.0
        out = self.l_min * np.exp(np.log1p(u * span) / q)
        return np.asarray(np.clip(out, self.l_min, self.l_max), dtype=np.float64)

    def partial_moment(self, n: int | float, a: ArrayLike, b: ArrayLike) -> FloatArray:
        """∫_a^b lⁿ P(l) dl (clipped to the support)."""
        lo = np.clip(np.asarray(a, dtype=np.float64), self.l_min, self.l_max)
        hi = np.clip(np.asarray(b, dtype=np.float64), self.l_min, self.l_max)
        return _power_integral(float(n) - self.alpha, lo, hi) / self._norm

    def moment(self, n: float) -> float:
        """⟨lⁿ⟩ (inf if it diverges with ``l_max = inf``)."""
        if math.isinf(self.l_max) and n - self.alpha >= -1.0:
            return math.inf
        return float(self.partial_moment(n, self.l_min, self.l_max))

    def survival(self, x: ArrayLike) -> FloatArray:
        """P(l > x)."""
        return self.partial_moment(0, x, self.l_max)


@dataclass(frozen=True)
class Narrow:
    """Narrow single-scale lengths: uniform on ``[mean - width/2, mean + width/2]``."""

    mean: float
    width: float

    def __post_init__(self) -> None:
        if not (0.0 < self.width < 2.0 * self.mean):
            raise ValueError(
                f"narrow needs 0 < width < 2*mean, got mean={self.mean}, width={self.width}"
            )

    @property
    def l_min(self) -> float:
        return self.mean - 0.5 * self.width

    @property
    def l_max(self) -> float:
        return self.mean + 0.5 * self.width

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """Draw ``n`` lengths."""
        return np.asarray(self.l_min + self.width * rng.random(n), dtype=np.float64)

    def partial_moment(self, n: int | float, a: ArrayLike, b: ArrayLike) -> FloatArray:
        """∫_a^b lⁿ P(l) dl (clipped to the support)."""
        lo = np.clip(np.asarray(a, dtype=np.float64), self.l_min, self.l_max)
        hi = np.clip(np.asarray(b, dtype=np.float64), self.l_min, self.l_max)
        return _power_integral(float(n), lo, hi) / self.width

    def moment(self, n: float) -> float:
        """⟨lⁿ⟩."""
        return float(self.partial_moment(n, self.l_min, self.l_max))

    def survival(self, x: ArrayLike) -> FloatArray:
        """P(l > x)."""
        return self.partial_moment(0, x, self.l_max)


@dataclass(frozen=True)
class Exponential:
    """Shifted exponential lengths ``l_min + Exp(mean - l_min)``."""

    mean: float
    l_min: float = 0.0

    def __post_init__(self) -> None:
        if not (self.l_min >= 0.0 and self.mean > self.l_min):
            raise ValueError(
                f"exponential needs 0 <= l_min < mean, got mean={self.mean}, l_min={self.l_min}"
            )

    @property
    def l_max(self) -> float:
        return math.inf

    @property
    def scale(self) -> float:
        """Scale ``mean - l_min`` of the exponential part."""
        return self.mean - self.l_min

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """Draw ``n`` lengths (inverse CDF, ``-scale·log1p(-u)``)."""
        return np.asarray(self.l_min - self.scale * np.log1p(-rng.random(n)), dtype=np.float64)

    def _tail(self, n: int, a: FloatArray) -> FloatArray:
        """∫_a^∞ lⁿ P(l) dl for integer n >= 0, by T_n = aⁿ S(a) + n·scale·T_{n-1}."""
        a = np.maximum(a, self.l_min)
        surv = np.where(np.isinf(a), 0.0, np.exp(-(a - self.l_min) / self.scale))
        t = surv.copy()
        with np.errstate(invalid="ignore"):
            for k in range(1, n + 1):
                t = np.where(surv > 0, a**k * surv, 0.0) + k * self.scale * t
        return np.asarray(t, dtype=np.float64)

    def partial_moment(self, n: int | float, a: ArrayLike, b: ArrayLike) -> FloatArray:
        """∫_a^b lⁿ P(l) dl for integer ``n >= 0``."""
        if n != int(n) or n < 0:
            raise ValueError(f"exponential partial moments need an integer n >= 0, got {n}")
        a_arr = np.asarray(a, dtype=np.float64)
        b_arr = np.asarray(b, dtype=np.float64)
        out = self._tail(int(n), a_arr) - self._tail(int(n), np.maximum(b_arr, a_arr))
        return np.asarray(out, dtype=np.float64)

    def moment(self, n: float) -> float:
        """⟨lⁿ⟩ for any real n (integer: exact; otherwise 96-point Gauss–Laguerre)."""
        if n == int(n) and n >= 0:
            return float(self.partial_moment(int(n), self.l_min, math.inf))
        y, w = np.polynomial.laguerre.laggauss(96)
        return float(np.sum(w * (self.l_min + self.scale * y) ** n))

    def survival(self, x: ArrayLike) -> FloatArray:
        """P(l > x)."""
        return self.partial_moment(0, x, math.inf)


AnyPdf = PowerLaw | Narrow | Exponential


def pdf_from_spec(spec: Any) -> AnyPdf:
    """Build a pdf from a ``patchwalk_client.spec`` patch model (or any object/dict with ``pdf``).

    Raises ``ValueError`` for ``pdf = "same"`` (resolve it to the high phase's pdf first).
    """
    def get(key: str, default: Any = None) -> Any:
        if isinstance(spec, dict):
            return spec.get(key, default)
        return getattr(spec, key, default)

    kind = get("pdf")
    if kind == "power_law":
        return PowerLaw(float(get("alpha")), float(get("l_min")), float(get("l_max")))
    if kind == "narrow":
        return Narrow(float(get("mean")), float(get("width")))
    if kind == "exponential":
        return Exponential(float(get("mean")), float(get("l_min", 0.0) or 0.0))
    if kind == "same":
        raise ValueError("pdf 'same' must be resolved to medium.high.patches before building it")
    raise ValueError(f"unknown patch pdf {kind!r}: use 'power_law', 'narrow' or 'exponential'")


def filling_fraction(high: PatchPdf, low: PatchPdf) -> float:
    """Linear filling fraction of the low phase, f = ⟨l_low⟩/(⟨l_low⟩ + ⟨l_high⟩) (eq. 5)."""
    ml, mh = low.moment(1), high.moment(1)
    return float(ml / (ml + mh))
