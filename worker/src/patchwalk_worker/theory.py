"""Theory curves (pure numpy): means (3–5), scalings (6), (7), (11), escape estimate (8),
progressive harmonic mean (C1–C2) on a realisation, its two-phase ensemble form (C6–C7)
and asymptotes (C8–C10), and the short-time expansion (VALIDATION item 2).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from patchwalk_worker.media import Medium, build_medium, phase_pdfs
from patchwalk_worker.patches import PatchPdf, PowerLaw, filling_fraction
from patchwalk_worker.rng import theory_rng

FloatArray = NDArray[np.float64]


def kappa_A(kappa: ArrayLike, lengths: ArrayLike) -> float:
    """Arithmetic mean κ_A = Σ l κ / Σ l (eq. 3)."""
    k, ell = np.asarray(kappa, float), np.asarray(lengths, float)
    return float(np.sum(ell * k) / np.sum(ell))


def kappa_H(kappa: ArrayLike, lengths: ArrayLike) -> float:
    """Harmonic mean κ_H = Σ l / Σ (l/κ) (eq. 4)."""
    k, ell = np.asarray(kappa, float), np.asarray(lengths, float)
    return float(np.sum(ell) / np.sum(ell / k))


def two_phase_means(f: float, kappa_high: float, kappa_low: float) -> tuple[float, float]:
    """(κ_A, κ_H) of a two-phase medium with low-phase filling fraction f (eq. 5)."""
    return f * kappa_low + (1 - f) * kappa_high, 1.0 / (f / kappa_low + (1 - f) / kappa_high)


def scaling_6(t: ArrayLike, high: PatchPdf, low: PatchPdf, kappa_high: float) -> FloatArray:
    """Eq. (6): κ_high ∫_{√(κ_high t)} l P_high dl / (⟨l_high⟩ + ⟨l_low⟩), for any pdfs."""
    lam = np.sqrt(kappa_high * np.asarray(t, float))
    num = high.partial_moment(1, lam, math.inf if math.isinf(high.l_max) else high.l_max)
    num = np.where(lam < high.l_min, high.moment(1), num)
    return np.asarray(kappa_high * num / (high.moment(1) + low.moment(1)), dtype=np.float64)


def scaling_7(
    t: ArrayLike, kappa_high: float, f: float, alpha: float, l_min: float, l_max: float
) -> FloatArray:
    """Eq. (7): order-unity scaling of κ̄(t) for a power-law high phase, all α branches.

    The α < 2 and α = 2 branches are clipped at 0 beyond ``t = l_max²/κ_high``; the
    α > 2 branches are only meaningful for ``t >= l_min²/κ_high``.
    """
    tau = kappa_high * np.asarray(t, dtype=np.float64)
    pref = (1 - f) * kappa_high
    if alpha < 2:
        out = 1.0 - (tau / l_max**2) ** ((2 - alpha) / 2)
    elif alpha == 2:
        out = np.log(l_max**2 / tau) / math.log(l_max**2 / l_min**2)
    elif alpha <= 4:
        out = (tau / l_min**2) ** ((2 - alpha) / 2)
    else:
        out = (tau / l_min**2) ** -1.0
    return np.asarray(pref * np.maximum(out, 0.0), dtype=np.float64)


def scaling_11(
    kappa_perp: ArrayLike, l_perp: float, kappa_high: float, f: float, alpha: float,
    l_min: float, l_max: float,
) -> FloatArray:
    """Eq. (11): κ̄_2D ~ eq. (7) at t = τ⊥ = l⊥²/κ⊥ (eq. 10); κ_A-side caveat not applied."""
    tau_perp = l_perp**2 / np.asarray(kappa_perp, dtype=np.float64)
    return scaling_7(tau_perp, kappa_high, f, alpha, l_min, l_max)


def f_longer_than(L: ArrayLike, high: PatchPdf, low: PatchPdf) -> FloatArray:
    """f_{l>L} of eq. (8): fraction of the line covered by high patches longer than L.

    Defined as in eq. (6): ∫_L^∞ l P_high(l) dl / (⟨l_high⟩ + ⟨l_low⟩), i.e. the probability that
    a uniformly placed start lies in a high patch of length > L. It equals 1 − f for L <= l_min.
    """
    lo = np.maximum(np.asarray(L, dtype=np.float64), high.l_min)
    num = high.partial_moment(1, lo, high.l_max)
    return np.asarray(num / (high.moment(1) + low.moment(1)), dtype=np.float64)


def escape_rate_8(
    L: ArrayLike, kappa_high: float, kappa_H_value: float, f_gt_L: ArrayLike
) -> FloatArray:
    """Eq. (8): t_esc⁻¹ ~ κ_high f_{l>L}/L² + κ_H (1 − f_{l>L})/L²."""
    L2 = np.asarray(L, dtype=np.float64) ** 2
    fg = np.asarray(f_gt_L, dtype=np.float64)
    return np.asarray((kappa_high * fg + kappa_H_value * (1 - fg)) / L2, dtype=np.float64)


def c7(t: ArrayLike, high: PatchPdf, kappa_high: float, f: float) -> FloatArray:
    """Eq. (C7) with (C3), (C6), to leading order in κ_low/κ_high, in closed form.

    With λ = √(2κ_high t), the density of the distance to the nearest boundary
    F(ℓ) = 2 S(2ℓ)/⟨l⟩ (S = survival function; eq. C6 for the power law) and
    L² = min(4ℓ², λ²) give, integrating by parts,
    κ̄_prog = (1−f)/(2t⟨l⟩) [ ∫₀^λ l³P/3 + λ² ∫_λ^∞ l P − (2/3) λ³ S(λ) ] — valid for any pdf.
    """
    t_arr = np.asarray(t, dtype=np.float64)
    lam = np.sqrt(2 * kappa_high * t_arr)
    mean = high.moment(1)
    m3 = high.partial_moment(3, 0.0 * lam + high.l_min, np.maximum(lam, high.l_min))
    m1 = high.partial_moment(1, np.maximum(lam, high.l_min), high.l_max)
    m1 = np.where(lam < high.l_min, mean, m1)
    s = np.where(lam < high.l_min, 1.0, high.survival(lam))
    bracket = m3 / 3 + lam**2 * m1 - (2.0 / 3.0) * lam**3 * s
    return np.asarray((1 - f) * bracket / (2 * t_arr * mean), dtype=np.float64)


def c8(t: ArrayLike, kappa_high: float, f: float, mean_l: float) -> FloatArray:
    """Eq. (C8), t < l_min²/2κ_high: (1−f)κ_high (1 − (2/3)√(2κ_high t)/⟨l⟩)."""
    lam = np.sqrt(2 * kappa_high * np.asarray(t, dtype=np.float64))
    return np.asarray((1 - f) * kappa_high * (1 - 2.0 / 3.0 * lam / mean_l), dtype=np.float64)


def c9(t: ArrayLike, high: PatchPdf, f: float, *, as_printed: bool = False) -> FloatArray:
    """Late-time limit of (C7), t > l_max²/2κ_high: (1−f)⟨l³⟩/(6⟨l⟩t).

    The paper prints (1−f)(l_min³ + ⟨l³⟩ − l_max^{1−α}⟨l^{α+2}⟩)/(2⟨l⟩t) (``as_printed=True``,
    power law only); integrating (C6) exactly gives ∫₀^{l_max} u² S(u) du = ⟨l³⟩/3, which is
    what (C7) tends to (tests/worker/test_theory.py checks both).
    """
    t_arr = np.asarray(t, dtype=np.float64)
    if as_printed:
        if not isinstance(high, PowerLaw):
            raise ValueError("the printed form of (C9) needs a power-law high phase")
        br = (high.l_min**3 + high.moment(3)
              - high.l_max ** (1 - high.alpha) * high.moment(high.alpha + 2))
        return np.asarray((1 - f) * br / (2 * high.moment(1) * t_arr), dtype=np.float64)
    return np.asarray((1 - f) * high.moment(3) / (6 * high.moment(1) * t_arr), dtype=np.float64)


def c10(
    t: ArrayLike, kappa_high: float, f: float, alpha: float, l_min: float,
    *, as_printed: bool = False,
) -> FloatArray:
    """Eq. (C10): (C7) for 2 < α < 4, l_max → ∞, l_min² < 2κ_high t.

    As printed, the middle term is (1−f)l_min²/(6t); integrating (C6) over 2ℓ < l_min gives
    (1−f)(α−2)l_min²/(6(α−1)t), which we use unless ``as_printed=True``. With it (C10) equals
    the l_max → ∞ limit of (C7) exactly.
    """
    t_arr = np.asarray(t, dtype=np.float64)
    x = 2 * kappa_high * t_arr
    a = alpha
    term1 = (1 - f) / (a - 1) * kappa_high * (x / l_min**2) ** ((2 - a) / 2)
    term2 = (1 - f) * l_min**2 / (6 * t_arr)
    if not as_printed:
        term2 = term2 * (a - 2) / (a - 1)
    term3 = ((1 - f) / (2 * t_arr * l_min ** (2 - a)) * (a - 2) / ((a - 1) * (4 - a))
             * (x ** ((4 - a) / 2) - l_min ** (4 - a)))
    return np.asarray(term1 + term2 + term3, dtype=np.float64)


def short_time(medium: Medium, t: ArrayLike) -> FloatArray:
    """VALIDATION item 2: κ_A − (4/(3√π)) (1/P) Σᵢ (√κ₊ − √κ₋)² (√κ₊ + √κ₋) √t (+ O(t)).

    Sums over all interfaces of all strips (including the periodic seam), averaged over strips.
    """
    total = 0.0
    for s in range(medium.n_strips):
        _, k = medium.strip(s)
        sp, sm = np.sqrt(k), np.sqrt(np.roll(k, 1))
        total += float(np.sum((sp - sm) ** 2 * (sp + sm))) / medium.length
    coef = 4.0 / (3.0 * math.sqrt(math.pi)) * total / medium.n_strips
    return np.asarray(medium.kappa_A - coef * np.sqrt(np.asarray(t, float)), dtype=np.float64)


def progressive_harmonic_mean(
    medium: Medium, t: ArrayLike, *, n_starts: int = 4096
) -> FloatArray:
    """Eqs (C1–C2) on a realisation: ⟨L²(t; x₀)⟩_{x₀}/(2t), averaged over strips.

    For each start x₀, τ(L) = (L/2)[R(x₀+L/2) − R(x₀−L/2)] with R(x) = ∫₀ˣ dx'/κ (periodic
    extension) is inverted for τ = t: a vectorised bisection brackets L within one linear piece
    of R at both ends, then the quadratic (L/2)(a + bL) = t is solved there exactly. Starts are
    midpoints of ``max(1, round(n_starts·l/P))`` equal sub-intervals of each patch, weighted by
    length, so the t → 0 limit is exactly κ_A.
    """
    t_arr = np.asarray(t, dtype=np.float64)
    acc = np.zeros(t_arr.shape[0])
    for s in range(medium.n_strips):
        edges, kap = medium.strip(s)
        acc += _phm_strip(edges, kap, t_arr, n_starts)
    return acc / medium.n_strips


def _phm_strip(edges: FloatArray, kap: FloatArray, t: FloatArray, n_starts: int) -> FloatArray:
    period = float(edges[-1])
    ell = np.diff(edges)
    r_cum = np.concatenate([[0.0], np.cumsum(ell / kap)])
    r_per = float(r_cum[-1])
    m = np.maximum(1, np.round(n_starts * ell / period)).astype(np.int64)
    pid = np.repeat(np.arange(ell.shape[0]), m)
    starts = np.concatenate([[0], np.cumsum(m)[:-1]])
    j = np.arange(pid.shape[0]) - np.repeat(starts, m)
    x0 = edges[pid] + (j + 0.5) * ell[pid] / m[pid]
    w = ell[pid] / m[pid] / period

    def resist(x: FloatArray) -> FloatArray:
        n_wrap = np.floor(x / period)
        out: FloatArray = n_wrap * r_per + np.interp(x - n_wrap * period, edges, r_cum)
        return out

    def inv_kappa_at(x: FloatArray, side: float) -> FloatArray:
        xm = np.mod(x, period)
        idx = np.searchsorted(edges, xm, side="right" if side > 0 else "left") - 1
        idx = np.mod(idx, ell.shape[0])
        return 1.0 / kap[idx]

    out = np.empty(t.shape[0])
    kmin, kmax = float(kap.min()), float(kap.max())
    for i, tt in enumerate(t):
        lo = np.full(x0.shape, math.sqrt(2 * kmin * tt) * (1 - 1e-12))
        hi = np.full(x0.shape, math.sqrt(2 * kmax * tt) * (1 + 1e-12))
        for _ in range(60):
            mid = np.sqrt(lo * hi)
            tau = 0.5 * mid * (resist(x0 + 0.5 * mid) - resist(x0 - 0.5 * mid))
            big = tau > tt
            hi = np.where(big, mid, hi)
            lo = np.where(big, lo, mid)
            if np.all(hi / lo < 1 + 1e-13):
                break
        lc = np.sqrt(lo * hi)
        b = 0.5 * (inv_kappa_at(x0 + 0.5 * lc, +1) + inv_kappa_at(x0 - 0.5 * lc, -1))
        a = (resist(x0 + 0.5 * lc) - resist(x0 - 0.5 * lc)) - b * lc
        # (L/2)(a + b L) = t  →  b L² + a L − 2t = 0
        disc = np.sqrt(a * a + 8 * b * tt)
        L = np.where(a > 0, 4 * tt / (a + disc), (disc - a) / (2 * b))
        out[i] = float(np.sum(w * L**2)) / (2 * tt)
    return out


def theory_curves(spec: Any, t: ArrayLike) -> dict[str, FloatArray]:
    """Theory curves of a resolved point spec at times ``t``.

    Keys: ``kappa_A``, ``kappa_H`` (ensemble, eq. 5; explicit media: their own means),
    ``progressive_harmonic_mean`` (C1–C2 on the realisation of task 0, drawn with
    :func:`~patchwalk_worker.rng.theory_rng`), ``short_time`` (item 2, same realisation);
    for two-phase media also ``scaling_6``, ``c7``; for a power-law high phase ``scaling_7``;
    in 2D ``kappa_perp`` (constant κ⊥) and, for a power-law high phase, ``scaling_11``.
    """
    t_arr = np.asarray(t, dtype=np.float64)
    ones = np.ones_like(t_arr)
    m = spec.medium
    rng = theory_rng(int(spec.seed))
    medium = build_medium(spec, rng, float(t_arr.max()))
    x_med = Medium(medium.edges, medium.kappa, medium.offsets, medium.length)
    out: dict[str, FloatArray] = {}
    out["progressive_harmonic_mean"] = progressive_harmonic_mean(x_med, t_arr)
    out["short_time"] = short_time(x_med, t_arr)
    if m.patches is not None:
        out["kappa_A"], out["kappa_H"] = x_med.kappa_A * ones, x_med.kappa_H * ones
    else:
        high, low = phase_pdfs(spec)
        kh, kl = spec.kappa_high_low()
        f = filling_fraction(high, low)
        ka, khm = two_phase_means(f, kh, kl)
        out["kappa_A"], out["kappa_H"] = ka * ones, khm * ones
        out["scaling_6"] = scaling_6(t_arr, high, low, kh)
        out["c7"] = c7(t_arr, high, kh, f)
        if isinstance(high, PowerLaw):
            out["scaling_7"] = scaling_7(t_arr, kh, f, high.alpha, high.l_min, high.l_max)
            if int(spec.dimensions) == 2 and medium.kappa_perp > 0:
                out["scaling_11"] = scaling_11(
                    medium.kappa_perp, medium.l_perp, kh, f, high.alpha, high.l_min, high.l_max
                ) * ones
    if int(spec.dimensions) == 2:
        out["kappa_perp"] = medium.kappa_perp * ones
    return out


def kappa_2d_heuristic(spec: Any) -> dict[str, float]:
    """κ̄_2D heuristics of Section 4 for a resolved 2D point spec.

    Returns ``eq10``: eq. (10), κ̄_2D ≈ κ̄(τ⊥) with τ⊥ = l⊥²/κ⊥ and κ̄ the progressive harmonic
    mean (C1–C2) of the x-medium of task 0's realisation (strip 0) — it reduces to κ_A for
    τ⊥ ≪ l_min²/κ_high (the caveat below eq. 11, Appendix B1) and to κ_H for κ⊥ → 0; and
    ``eq11``: the two-phase power-law scaling (11) (NaN unless the high phase is a power law).
    """
    m = spec.medium
    rng = theory_rng(int(spec.seed))
    # one strip is enough for the PHM (strips are independent realisations of one pdf)
    medium = build_medium(spec, rng, 1.0)
    kperp = float(medium.kappa_perp)  # energy-scaled κ⊥
    tau_perp = math.inf if kperp <= 0 else float(medium.l_perp) ** 2 / kperp
    edges, kap = medium.strip(0)
    strip = Medium.from_patches(list(zip(np.diff(edges), kap, strict=True)))
    if math.isinf(tau_perp):
        eq10 = strip.kappa_H
    else:
        eq10 = float(progressive_harmonic_mean(strip, np.array([tau_perp]))[0])
    eq11 = math.nan
    if m.patches is None:
        high, low = phase_pdfs(spec)
        if isinstance(high, PowerLaw) and kperp > 0:
            kh, _kl = spec.kappa_high_low()
            f = filling_fraction(high, low)
            eq11 = float(
                scaling_11(kperp, float(m.l_perp), kh, f, high.alpha, high.l_min, high.l_max)
            )
    return {"eq10": eq10, "eq11": eq11}
