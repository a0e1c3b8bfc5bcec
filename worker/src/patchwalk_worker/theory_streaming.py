"""Theory of Appendix E (pure numpy): streaming phase (E1), two-phase heuristic (E2), the exact
persistent-random-walk κ̄(t), and the exact short- and long-time limits of the streaming kernel.

Conventions (docs/kernels.md, "streaming"): in the streaming phase particles move at ±v and are
scattered at rate σ into a direction drawn uniformly from {+1, −1}, so ⟨v(t)v(0)⟩ = v²e^{−σt}
and κ_str = v²/σ — the long-time limit of (E1) as printed. A rule that *reverses* at rate σ is
the same process with σ → 2σ (VALIDATION item 12).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from patchwalk_client.medium import PowerLawPdf

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

FloatArray = NDArray[np.float64]


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{name} must be positive and finite (got {value})")
    return v


def kappa_e1(t: ArrayLike, v: float, sigma: float) -> FloatArray:
    """Eq. (E1) as printed: κ_str(t) ~ v²t / (1 + σt) (a rough interpolation).

    It has the exact long-time limit v²/σ of :func:`kappa_prw` but twice its short-time
    value (v²t instead of v²t/2).
    """
    tt = np.asarray(t, dtype=np.float64)
    return np.asarray(v * v * tt / (1.0 + sigma * tt), dtype=np.float64)


def one_minus_relax(x: ArrayLike) -> FloatArray:
    """1 − (1 − e^{−x})/x for x ≥ 0, accurate at small x (series below 1e-3)."""
    xx = np.asarray(x, dtype=np.float64)
    out = np.empty_like(xx)
    small = xx < 1e-3
    xs = xx[small]
    out[small] = xs / 2 - xs**2 / 6 + xs**3 / 24 - xs**4 / 120
    xl = xx[~small]
    out[~small] = 1.0 + np.expm1(-xl) / xl
    return out


def kappa_prw(t: ArrayLike, v: float, sigma: float) -> FloatArray:
    """Exact running diffusion coefficient of the 1D persistent random walk (App. E, one phase).

    With ⟨v(t)v(0)⟩ = v²e^{−σt} (isotropic re-draw at rate σ),
    ⟨Δx²⟩ = 2v²∫₀ᵗ(t − s)e^{−σs}ds = (2v²/σ²)(σt − 1 + e^{−σt}), hence

        κ̄(t) = (v²/σ) [1 − (1 − e^{−σt})/(σt)],

    → v²t/2 for σt ≪ 1 and v²/σ for σt ≫ 1 (cf. eq. E1).

    Parameters
    ----------
    t : array_like
        Times, ≥ 0.
    v, sigma : float
        Speed and scattering rate.
    """
    vv = _positive("v", v)
    ss = _positive("sigma", sigma)
    return np.asarray(vv * vv / ss * one_minus_relax(ss * np.asarray(t, float)), dtype=np.float64)


def kappa_e2(
    t: ArrayLike, kappa_str_t: ArrayLike, f: float, alpha: float, l_min: float, l_max: float
) -> FloatArray:
    """Eq. (E2): eq. (7) with κ_high replaced by a time-dependent κ_str(t).

    κ̄(t) ~ (1 − f) κ_str(t) × {1 − (κ_str t/l_max²)^{(2−α)/2} (α < 2);
    ln(l_max²/(tκ_str))/ln(l_max²/l_min²) (α = 2); (tκ_str/l_min²)^{(2−α)/2} (2 < α ≤ 4);
    (tκ_str/l_min²)^{−1} (α > 4)}. The α ≤ 2 branches are clipped at 0; the α > 2 branches mean
    something only for tκ_str ≥ l_min² (they exceed 1 before). An order-unity heuristic: the
    exact limits are :func:`kappa_early` and :func:`kappa_long_time`.

    Parameters
    ----------
    t : array_like
        Times.
    kappa_str_t : array_like
        κ_str at those times (:func:`kappa_e1` as printed, or :func:`kappa_prw`).
    f : float
        Filling fraction of the diffusive (low) phase (eq. 5).
    alpha : float
        Power-law index of the streaming-phase patch pdf.
    l_min, l_max : float
        Patch-size range.
    """
    tt = np.asarray(t, dtype=np.float64)
    ks = np.asarray(kappa_str_t, dtype=np.float64)
    tau = ks * tt
    if alpha < 2:
        shape = 1.0 - (tau / l_max**2) ** ((2 - alpha) / 2)
    elif alpha == 2:
        shape = np.log(l_max**2 / tau) / math.log(l_max**2 / l_min**2)
    elif alpha <= 4:
        shape = (tau / l_min**2) ** ((2 - alpha) / 2)
    else:
        shape = (tau / l_min**2) ** -1.0
    return np.asarray((1 - f) * ks * np.maximum(shape, 0.0), dtype=np.float64)


def e2(
    t: ArrayLike, v: float, sigma: float, f: float, alpha: float, l_min: float, l_max: float,
    *, exact_prw: bool = False,
) -> FloatArray:
    """Eq. (E2) with κ_str(t) from (E1) as printed (default) or the exact :func:`kappa_prw`."""
    ks = kappa_prw(t, v, sigma) if exact_prw else kappa_e1(t, v, sigma)
    return kappa_e2(t, ks, f, alpha, l_min, l_max)


def kappa_early(
    t: ArrayLike, f: float, kappa_diff: float, v: float, sigma: float,
    interfaces_per_length: float = 0.0,
) -> FloatArray:
    """Short-time limit of the two-phase streaming model.

    f κ_diff + (1 − f) κ̄_prw(t) − n_I (4/(3√π)) κ_diff^{3/2} √t: (E2)'s prefactor with the
    exact κ̄_prw (:func:`kappa_prw`) plus the diffusive particles, and (with ``n_I`` =
    ``interfaces_per_length`` > 0) the first correction from the interfaces, which reflect
    diffusive particles while their push √(κ_diff t) is below the exit threshold ~2κ_diff/v
    (the κ₊ → 0 limit of VALIDATION item 2: Σ over walls of −(4/(3√π))κ^{3/2}√t / P).
    Neglected: streaming particles stopped by an interface (at most n_I v³t²/6, i.e. O(vt/l) of
    the streaming term) and exits from the diffusive phase (they matter from t ~ 4κ_diff/v²).
    """
    tt = np.asarray(t, dtype=np.float64)
    wall = interfaces_per_length * 4.0 / (3.0 * math.sqrt(math.pi)) * kappa_diff**1.5
    return np.asarray(f * kappa_diff + (1 - f) * kappa_prw(tt, v, sigma) - wall * np.sqrt(tt),
                      dtype=np.float64)


def kappa_long_time(
    lengths: ArrayLike, is_streaming: ArrayLike, kappa: ArrayLike, v: float, sigma: float
) -> float:
    """Exact κ̄(∞) of the streaming kernel on one periodic medium (docs/kernels.md).

    Resistances in series: a streaming patch of length l adds lσ/v², a diffusive one l/κ, and
    each streaming/diffusive interface 1/v (contact resistance of the elastic interface rule):

        κ_∞ = P / (Σ_str lσ/v² + Σ_diff l/κ + N_interfaces/v).

    As v → ∞ at fixed κ_str = v²/σ this is the harmonic mean (4); the paper's κ_low/f is its
    κ_diff ≪ κ_str limit.

    Parameters
    ----------
    lengths : array_like
        Patch lengths of one period (neighbouring patches of one phase may repeat).
    is_streaming : array_like of bool
        Phase of each patch.
    kappa : array_like
        κ of each patch (used for the diffusive ones).
    v, sigma : float
        Streaming speed and scattering rate.
    """
    ell = np.asarray(lengths, dtype=np.float64)
    st = np.asarray(is_streaming, dtype=bool)
    kap = np.asarray(kappa, dtype=np.float64)
    vv = _positive("v", v)
    ss = _positive("sigma", sigma)
    n_int = int(np.count_nonzero(st != np.roll(st, 1))) if ell.size > 1 else 0
    resist = float(np.sum(ell[st]) * ss / vv**2 + np.sum(ell[~st] / kap[~st]) + n_int / vv)
    return float(np.sum(ell) / resist)


def kappa_long_time_ensemble(
    mean_l_str: float, mean_l_diff: float, kappa_diff: float, v: float, sigma: float
) -> float:
    """Ensemble form of :func:`kappa_long_time` for alternating phases (two interfaces per
    pair): (⟨l_s⟩ + ⟨l_d⟩) / (⟨l_s⟩σ/v² + ⟨l_d⟩/κ_diff + 2/v)."""
    vv = _positive("v", v)
    return float((mean_l_str + mean_l_diff)
                 / (mean_l_str * sigma / vv**2 + mean_l_diff / kappa_diff + 2.0 / vv))


def streaming_curves(
    spec: SweepSpec, t: ArrayLike, edges: ArrayLike, kappa: ArrayLike, is_streaming: ArrayLike,
    v: float, sigma: float | None,
) -> dict[str, FloatArray]:
    """Appendix E curves of a streaming point on one realisation (``/theory``).

    ``prw``: κ̄ of the streaming phase alone (exact, eq. E1's model); ``late``: the exact
    κ̄(∞) of the realisation (:func:`kappa_long_time`, constant); ``e2`` and ``e2_prw``: eq. (E2)
    with κ_str(t) from (E1) as printed and from :func:`kappa_prw` (two-phase power-law media
    only); ``early``: :func:`kappa_early`.

    Parameters
    ----------
    spec : SweepSpec
        The point (for the streaming phase's patch pdf).
    t : array_like
        Output times.
    edges, kappa, is_streaming : array_like
        The realisation re-cut by phase (``kernels.streaming.streaming_strip``).
    v, sigma : float
        Speed and scattering rate (``sigma`` None: v²/κ of the streaming phase).
    """
    tt = np.asarray(t, dtype=np.float64)
    ell = np.diff(np.asarray(edges, dtype=np.float64))
    st = np.asarray(is_streaming, dtype=bool)
    kap = np.asarray(kappa, dtype=np.float64)
    sig = v * v / float(kap[st][0]) if sigma is None else float(sigma)
    out = {"prw": kappa_prw(tt, v, sig),
           "late": np.full(tt.shape, kappa_long_time(ell, st, kap, v, sig))}
    if (~st).any():
        length = float(np.sum(ell))
        f = float(np.sum(ell[~st]) / length)
        k_diff = float(np.sum(ell[~st]) / np.sum(ell[~st] / kap[~st]))
        n_i = float(np.count_nonzero(st != np.roll(st, 1))) / length
        out["early"] = kappa_early(tt, f, k_diff, v, sig, n_i)
        low = getattr(spec.kernel_options(), "streaming_phase", "") == "low"
        pdf = spec.medium.phase_pdf("low" if low else "high")
        if isinstance(pdf, PowerLawPdf):
            a, lo, hi = float(pdf.alpha), float(pdf.l_min), float(pdf.l_max)
            out["e2"] = e2(tt, v, sig, f, a, lo, hi)
            out["e2_prw"] = e2(tt, v, sig, f, a, lo, hi, exact_prw=True)
    return out
