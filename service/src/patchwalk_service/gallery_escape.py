"""Fig. 4 in the gallery, and beyond it: the energy of its break as a function of α.

Eq. (8) adds the escape rates of two populations (over L_esc²): the few born in high patches
longer than L_esc, fast(E) = κ_high(E) f_L, and the rest, slow(E) = κ_H(E)(1 − f_L). With
κ_high ∝ E² and κ_H ≈ κ_low/f ∝ E^½ the rate is a broken power law whose break energy E_b,
where the two terms are equal, depends on the medium only through f_L = f_{l > L_esc}, i.e.
through α.

Measured: the weighted least-squares fit r(E) = A slow(E) + B fast(E) of one α's rates
(linear in the amplitudes A, B: eq. 8's two energy dependences, its prefactors left free), and
E_b where A slow = B fast, i.e. fast/slow(E_b) = A/B; its error propagated from the fit's
covariance (inflated by √(χ²/dof) when the fit is worse than its errors). Eq. (8) as printed
is A = B = 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from patchwalk_client.spec import SweepSpec
from patchwalk_worker.media import ensemble_means, phase_pdfs
from patchwalk_worker.theory import f_longer_than

from .gallery_figures import Run, _axes, arr, point_spec
from .plots import _png

#: fast(E), slow(E) of eq. (8) at energy E
Terms = Callable[[float], tuple[float, float]]


@dataclass(frozen=True)
class TwoTermFit:
    """r(E) = A slow(E) + B fast(E) fitted to one α's rates."""

    a: float
    b: float
    cov: np.ndarray
    chi2: float
    dof: int

    @property
    def ln_ratio_err(self) -> float:
        """Standard error of ln(A/B) (first order)."""
        if self.a <= 0 or self.b <= 0:
            return math.nan
        grad = np.array([1.0 / self.a, -1.0 / self.b])
        return math.sqrt(float(grad @ self.cov @ grad))


def fit_two_terms(rate: np.ndarray, err: np.ndarray, slow: np.ndarray,
                  fast: np.ndarray) -> TwoTermFit:
    """Weighted (1/err²) least squares of ``rate = A slow + B fast``; covariance inflated by
    √(χ²/dof) when χ²/dof > 1."""
    rate, err, slow, fast = (np.asarray(x, dtype=np.float64) for x in (rate, err, slow, fast))
    design = np.stack([slow, fast], axis=1) / err[:, None]
    target = rate / err
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    resid = target - design @ coef
    chi2 = float(resid @ resid)
    dof = max(int(rate.size) - 2, 1)
    return TwoTermFit(float(coef[0]), float(coef[1]), cov * max(1.0, chi2 / dof), chi2, dof)


def break_energy(terms: Terms, ratio: float = 1.0, lo: float = 1e-4,
                 hi: float = 1e4) -> float:
    """Energy where fast(E)/slow(E) = ``ratio`` (eq. 8 as printed: ratio 1).

    Bisection in ln E on [lo, hi] (the fast term grows faster with E than the slow one); NaN
    when there is no crossing in the bracket or the ratio is not positive.
    """
    if not ratio > 0:
        return math.nan
    target = math.log(ratio)

    def gap(x: float) -> float:
        fast, slow = terms(math.exp(x))
        return math.log(fast) - math.log(slow) - target

    a, b = math.log(lo), math.log(hi)
    if not gap(a) < 0 < gap(b):
        return math.nan
    for _ in range(60):
        m = 0.5 * (a + b)
        if gap(m) < 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


def measured_break(fit: TwoTermFit, terms: Terms) -> tuple[float, float]:
    """E_b of a fit, fast/slow(E_b) = A/B, and its error d ln E_b = d ln(A/B) / (d ln(fast/slow)
    / d ln E) at E_b."""
    if fit.a <= 0 or fit.b <= 0:
        return math.nan, math.nan
    e_b = break_energy(terms, fit.a / fit.b)
    if math.isnan(e_b):
        return e_b, math.nan
    h = 1e-3
    (f1, s1), (f2, s2) = terms(e_b * math.exp(-h)), terms(e_b * math.exp(h))
    slope = (math.log(f2 / s2) - math.log(f1 / s1)) / (2 * h)
    return e_b, e_b * fit.ln_ratio_err / slope


# ---- Fig. 4 ---------------------------------------------------------------------------------

def eq8_terms(spec: SweepSpec, L: float) -> tuple[float, float]:
    """Eq. (8)'s two populations, (κ_high f_L/L², κ_H (1 − f_L)/L²): fast and slow."""
    high, low = phase_pdfs(spec)
    kh, _ = spec.kappa_high_low()
    _, k_harm = ensemble_means(spec)
    fl = float(f_longer_than(L, high, low))
    return kh * fl / L**2, k_harm * (1 - fl) / L**2


def eq8_rates(spec: SweepSpec, L: float) -> tuple[float, float]:
    """Eq. (8) as printed, ⟨1/τ⟩ ≈ (κ_high f_L + κ_H (1 − f_L))/L², and its mean-time
    counterpart 1/⟨τ⟩ ≈ 1/(f_L L²/κ_high + (1 − f_L) L²/κ_H) (same two populations: with
    fast = κ_high f_L/L² and slow = κ_H (1 − f_L)/L² that is 1/(f_L²/fast + (1 − f_L)²/slow))."""
    fast, slow = eq8_terms(spec, L)
    fl = fast * L**2 / spec.kappa_high_low()[0]
    return fast + slow, 1.0 / (fl**2 / fast + (1 - fl) ** 2 / slow)


def fig4(runs: Sequence[Run]) -> tuple[bytes, dict[str, Any]]:
    """Escape rates against energy per α: the served mean rate ⟨1/τ⟩ (``mean_rate``, the
    paper's t_esc⁻¹) and 1/⟨τ⟩ (``rate``), with eq. (8) in both readings; right: the break
    energy against α (:mod:`.gallery_break`)."""
    run = runs[0]
    assert run.escape is not None
    fig, (ax, bx) = _axes(2, 6.0)
    alpha_path = "medium.high.patches.alpha"
    base = point_spec(run, {k: v for k, v in run.escape.points[0].params.items()
                            if k != "energy"} | {"energy": 1.0})
    L = float(base.escape.distances[0])
    t0 = L**2 / (2 * ensemble_means(base)[0])
    by_alpha: dict[float, list[tuple[float, ...]]] = {}
    for p in run.escape.points:
        spec = point_spec(run, p.params)
        printed, mean_time = eq8_rates(spec, L)
        fast, slow = eq8_terms(spec, L)
        rate, err = arr(p.rate)[0], arr(p.rate_err)[0]
        inv, inv_e = arr(p.mean_rate)[0], arr(p.mean_rate_err)[0]
        inv_up = arr(p.mean_rate_upper)[0]
        frac = arr(p.fraction)[0]
        by_alpha.setdefault(float(p.params[alpha_path]), []).append(
            (float(p.params["energy"]), rate * t0, err * t0, printed * t0, mean_time * t0, frac,
             inv * t0, inv_e * t0, inv_up * t0, fast * t0, slow * t0))
    rows: dict[str, Any] = {}
    for i, (a, pts) in enumerate(sorted(by_alpha.items())):
        e, r, re, pr, mt, fr, it, ie, iu, fa, sl = (np.array(c)
                                                    for c in zip(*sorted(pts), strict=True))
        col = f"C{i}"
        ax.errorbar(e, it, yerr=ie, fmt="s", color=col, label=f"α = {a:g}")
        ax.errorbar(e, r, yerr=re, fmt="o", mfc="none", color=col)
        ax.loglog(e, pr, "-", color=col, lw=0.8)
        ax.loglog(e, mt, "--", color=col, lw=0.8)

        def terms(en: float, a: float = a) -> tuple[float, float]:
            return eq8_terms(point_spec(run, {alpha_path: a, "energy": en}), L)

        fit = fit_two_terms(it, ie, sl, fa)
        e_b, e_b_err = measured_break(fit, terms)
        e_8 = break_energy(terms)
        if fit.a > 0 and fit.b > 0:
            ax.loglog(e, fit.a * sl + fit.b * fa, ":", color=col, lw=0.8)
        rows[f"{a:g}"] = {"energy": e.tolist(), "rate_t0": r.tolist(), "err_t0": re.tolist(),
                          "eq8_printed_t0": pr.tolist(), "eq8_mean_time_t0": mt.tolist(),
                          "fraction": fr.tolist(), "mean_inverse_t0": it.tolist(),
                          "mean_inverse_err_t0": ie.tolist(),
                          "mean_inverse_upper_t0": iu.tolist(),
                          "slope_measured": float(np.polyfit(np.log(e), np.log(r), 1)[0]),
                          "fit_slow_amplitude": fit.a, "fit_fast_amplitude": fit.b,
                          "fit_chi2": fit.chi2, "fit_dof": fit.dof,
                          "break_energy": e_b, "break_energy_err": e_b_err,
                          "eq8_break_energy": e_8}
        if math.isfinite(e_b):
            bx.errorbar([a], [e_b], yerr=[e_b_err], fmt="o", color=col)
        bx.plot([a], [e_8], "x", color=col)
    ax.set_xlabel("E / E0")
    ax.set_ylabel("t_esc⁻¹ · t0")
    fig.text(0.01, 0.01, "filled squares: ⟨1/τ⟩ (served mean_rate); open circles: 1/⟨τ⟩ "
             "(rate); solid: eq. (8) as printed; dashed: its 1/⟨τ⟩ form; dotted: A·slow + "
             "B·fast fitted to ⟨1/τ⟩", fontsize=7)
    fig.subplots_adjust(bottom=0.17, wspace=0.25)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    ax.set_title(f"Fig. 4: escape past L_esc = {L:g}, t0 = L²/2κ_A(E0) = {t0:.3g}", fontsize=9)
    energies = [x for row in rows.values() for x in row["energy"]]
    bx.axhspan(min(energies), max(energies), color="0.92", zorder=0)
    bx.set_yscale("log")
    bx.set_xlabel("α")
    bx.set_ylabel("break energy E_b / E0")
    bx.set_title("E_b: A·slow = B·fast (points, fit to ⟨1/τ⟩); eq. (8) as printed (x);\n"
                 "grey: the energies run", fontsize=8)
    return _png(fig), {"L_esc": L, "t0": t0, "alphas": rows}
