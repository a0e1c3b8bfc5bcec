"""The gallery's figures and their quantitative checks, from what the service returned.

Each ``FIGURES[name](runs) -> (png, checks)`` draws one figure of the paper with its overlays
and returns the numbers its claims are checked on (``docs/gallery.md``, tests/e2e/
test_gallery.py). Theory overlays come from the stored ``/theory`` curves and, for (C8)–(C10)
and eq. (8), from :mod:`patchwalk_worker.theory` with the spec's pdfs (the corrected C9/C10 of
docs/reference.md). Numbers only; no physics is simulated here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from patchwalk_client.models import (
    DensityResults,
    EscapeResults,
    Kappa2DResults,
    KappaPoint,
    KappaResults,
    TheoryResults,
)
from patchwalk_client.spec import SweepSpec, parse_spec
from patchwalk_worker.media import ensemble_means, phase_pdfs
from patchwalk_worker.patches import PowerLaw
from patchwalk_worker.theory import c8, c9, c10, scaling_7

from .plots import _png


@dataclass(frozen=True)
class Run:
    """One sweep of a gallery entry: the spec sent and what the service answered."""

    spec: Mapping[str, Any]
    kappa: KappaResults
    theory: TheoryResults
    escape: EscapeResults | None = None
    kappa2d: Kappa2DResults | None = None
    density: DensityResults | None = None
    #: Monte-Carlo histograms of the same source (``/density?source=histogram``; exact kernel)
    histogram: DensityResults | None = None


Figure = Callable[[Sequence[Run]], tuple[bytes, dict[str, Any]]]


def arr(xs: Sequence[float | None] | None) -> np.ndarray:
    """Floats with None → NaN."""
    return np.array([math.nan if x is None else float(x) for x in (xs or [])], dtype=float)


def point_spec(run: Run, params: Mapping[str, Any]) -> SweepSpec:
    """The resolved spec of one point of a run (sweep values put in)."""
    spec = parse_spec({k: v for k, v in run.spec.items() if k != "sweep"})
    data = spec.model_dump(mode="json")
    for path, value in params.items():
        node = data
        *head, last = path.split(".")
        for key in head:
            node = node[key]
        node[last] = value
    data.pop("sweep", None)
    return parse_spec(data)


def log_slope(t: np.ndarray, k: np.ndarray, lo: float, hi: float,
              sel: np.ndarray | None = None) -> float:
    """Least-squares slope of ln κ̄ against ln t over lo ≤ t ≤ hi (and ``sel``; NaN with < 3
    points)."""
    sel = (t >= lo) & (t <= hi) & np.isfinite(k) & (k > 0) & (True if sel is None else sel)
    if np.count_nonzero(sel) < 3:
        return math.nan
    return float(np.polyfit(np.log(t[sel]), np.log(k[sel]), 1)[0])


def _axes(n: int, width: float = 5.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, 4.2), squeeze=False)
    return fig, axes[0]


def _alpha(p: KappaPoint) -> float:
    return float(p.params.get("medium.high.patches.alpha", math.nan))


# ---- Fig. 3 ---------------------------------------------------------------------------------

def expected_slope(alpha: float) -> float:
    """Eq. (7): (2 − α)/2 for 2 < α ≤ 4, −1 for α > 4 (NaN otherwise: not a power law)."""
    if 2 < alpha <= 4:
        return (2 - alpha) / 2
    return -1.0 if alpha > 4 else math.nan


def appendix_c(spec: SweepSpec, t: np.ndarray) -> dict[str, np.ndarray]:
    """(C8), (C9) and, for 2 < α < 4, (C10) (corrected forms) in their ranges of validity."""
    high, low = phase_pdfs(spec)
    kh, _ = spec.kappa_high_low()
    f = 1.0 - high.moment(1) / (high.moment(1) + low.moment(1))
    out = {"C8": np.where(t < high.l_min**2 / (2 * kh), c8(t, kh, f, high.moment(1)), np.nan),
           "C9": np.where(t > high.l_max**2 / (2 * kh), c9(t, high, f), np.nan)}
    if isinstance(high, PowerLaw) and 2 < high.alpha < 4:
        out["C10"] = np.where((t > high.l_min**2 / (2 * kh)) & (t < high.l_max**2 / (2 * kh)),
                              c10(t, kh, f, high.alpha, high.l_min), np.nan)
    return out


def subdiffusive_window(spec: SweepSpec) -> tuple[float, float]:
    """The window of eq. (7), from its derivation (docs/gallery.md, "Fig. 3: the window").

    Lower end 10 l_min²/κ_high (the particle has crossed its initial patch); upper end the
    smaller of 10⁻³ l_min²/κ_low (low patches still frozen walls) and 10⁻⁵ l_max²/κ_high (the
    upper limit of eq. 6 changes the α = 2.5 slope by ≤ 0.015). Empty (hi < lo) when the
    contrast or l_max/l_min is too small for a window.
    """
    high, low = phase_pdfs(spec)
    kh, kl = spec.kappa_high_low()
    lmin = min(high.l_min, low.l_min)
    return 10 * high.l_min**2 / kh, min(1e-3 * lmin**2 / kl, 1e-5 * high.l_max**2 / kh)


def eq7_window_slope(spec: SweepSpec, lo: float, hi: float) -> float:
    """Least-squares log-slope of eq. (7) itself over [lo, hi] ((2 − α)/2 for 2 < α ≤ 4, −1
    above; for α ≤ 2 the slope of its 1 − (κt/l_max²)^((2−α)/2) and logarithmic forms)."""
    high, low = phase_pdfs(spec)
    kh, _ = spec.kappa_high_low()
    assert isinstance(high, PowerLaw)
    f = 1.0 - high.moment(1) / (high.moment(1) + low.moment(1))
    t = np.geomspace(lo, hi, 33)
    return log_slope(t, scaling_7(t, kh, f, high.alpha, high.l_min, high.l_max), lo, hi)


def pooled_slope(sets: Sequence[tuple[np.ndarray, np.ndarray]], lo: float,
                 hi: float) -> tuple[float, float]:
    """Log-slope of the mean κ̄(t) of independent sets (seeds) over [lo, hi], and its
    jackknife standard error (leave one set out).

    The mean is fitted, not each set: at large α, κ̄ late in the window rests on a handful of
    particles in long patches per set, and the log of such a small-count mean is biased low
    (Jensen), which would steepen per-set slopes.
    """
    t = sets[0][0]
    ks = np.array([k for _, k in sets])
    full = log_slope(t, ks.mean(axis=0), lo, hi)
    n = ks.shape[0]
    if n < 2:
        return full, math.nan
    loo = np.array([log_slope(t, np.delete(ks, i, axis=0).mean(axis=0), lo, hi)
                    for i in range(n)])
    return full, float(math.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))


def fig3(runs: Sequence[Run]) -> tuple[bytes, dict[str, Any]]:
    """κ̄(t) per α with PHM, C8–C10, κ_A and κ_H; fitted log-slopes against (2 − α)/2."""
    fig, axes = _axes(len(runs) + 1)
    curves: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    c7_slopes: dict[float, float] = {}
    eq7_slopes: dict[float, float] = {}
    window: tuple[float, float] = (math.nan, math.nan)
    late: dict[str, Any] = {}
    early: list[float] = []
    for ax, run in zip(axes, runs, strict=False):
        seen: set[float] = set()
        in_run = False
        for p, th in zip(run.kappa.points, run.theory.points, strict=True):
            a = _alpha(p)
            spec = point_spec(run, p.params)
            t, k, e = arr(p.t), arr(p.kappa), arr(p.kappa_err)
            high, _ = phase_pdfs(spec)
            lo, hi = subdiffusive_window(spec)
            ka_e, kh_e = ensemble_means(spec)
            if hi > 10 * lo and t[-1] >= hi * (1 - 1e-9):
                window = (lo, hi)
                in_run = True
                curves.setdefault(a, []).append((t, k))
                c7_slopes[a] = log_slope(t, arr(th.curves.get("c7")), lo, hi)
                eq7_slopes[a] = eq7_window_slope(spec, lo, hi)
                early.append(float(k[0]) / ka_e)
            if t[-1] * kh_e > 10 * high.l_max**2:
                late[f"{a:g}"] = {"kappa_last": float(k[-1]), "err": float(e[-1]),
                                  "kappa_H": kh_e, "t_max": float(t[-1])}
            if a in seen:
                continue
            seen.add(a)
            line = ax.errorbar(t, k, yerr=e, fmt="o", ms=3, label=f"α = {a:g}")[0]
            col = line.get_color()
            ax.loglog(t, arr(th.curves.get("progressive_harmonic_mean")), color=col, lw=0.8)
            for name, c in appendix_c(spec, t).items():
                ax.loglog(t, c, ls=":" if name == "C9" else "--", color=col, lw=0.8)
            ax.axhline(kh_e, color=col, ls="-.", lw=0.5)
            if a == 2.0 and hi > 10 * lo:
                inset = ax.inset_axes((0.4, 0.07, 0.3, 0.25))
                sel = (t >= lo / 10) & (t <= hi)
                inset.errorbar(t[sel], k[sel], yerr=e[sel], fmt="o", ms=2, color=col)
                inset.semilogx(t[sel], arr(th.curves.get("scaling_7"))[sel], "k:", lw=0.8)
                inset.set_title("α = 2, semi-log", fontsize=6)
                inset.tick_params(labelsize=5)
        if in_run:
            for edge in window:
                ax.axvline(edge, color="0.7", lw=0.6)
        ax.axhline(ka_e, color="k", ls="-.", lw=0.5)
        ax.set_xlabel("t")
        ax.set_ylabel("κ̄(t)")
        ax.set_title("solid: PHM (C2); dashed: C8, C10; dotted: C9; dash-dot: κ_A, κ_H"
                     + ("; grey: the window" if in_run else ""), fontsize=7)
        ax.legend(fontsize=6, loc="lower left")
    rows = {}
    sax = axes[-1]
    for a, sets in sorted(curves.items()):
        slope, err = pooled_slope(sets, *window)
        rows[f"{a:g}"] = {"slope": slope, "err": err, "n_sets": len(sets),
                          "expected": expected_slope(a), "eq7_window": eq7_slopes[a],
                          "c7_slope": c7_slopes[a]}
        sax.errorbar([a], [slope], yerr=[err], fmt="o", color="C0")
    aa = np.linspace(1.5, 4.5, 61)
    sax.plot(aa, [expected_slope(x) for x in aa], "k-", lw=0.8, label="eq. (7): (2 − α)/2, −1")
    sax.plot(list(eq7_slopes), list(eq7_slopes.values()), "kx", label="eq. (7) fitted in window")
    sax.plot(list(c7_slopes), list(c7_slopes.values()), "s", mfc="none", label="C7, same window")
    sax.set_xlabel("α")
    sax.set_ylabel(f"d ln κ̄ / d ln t, {window[0]:.3g} ≤ t ≤ {window[1]:.3g}")
    sax.legend(fontsize=7)
    fig.suptitle("Fig. 3: κ̄(t) for P_low = P_high ∝ l^−α, carried to κ_H with `exact`")
    ev = np.array(early)
    first = {"kappa_first_over_kappa_A": float(np.mean(ev)) if ev.size else math.nan,
             "err": float(np.std(ev, ddof=1) / math.sqrt(ev.size)) if ev.size > 1 else math.nan,
             "n_points": int(ev.size)}
    return _png(fig), {"slopes": rows, "window": list(window), "early": first, "late": late}


# ---- Fig. 5 and D1 --------------------------------------------------------------------------

def fig5(runs: Sequence[Run]) -> tuple[bytes, dict[str, Any]]:
    """κ̄(t) in 2D for a range of κ⊥, and converged κ̄_2D against κ⊥ with (10), (11).

    The runs differ only in κ⊥ and t_max (each range of κ⊥ run as long as it needs); their
    points are drawn together, in order of κ⊥.
    """
    kappa = sorted((p for r in runs for p in r.kappa.points), key=lambda p: p.kappa_perp or 0)
    pts = sorted((p for r in runs if r.kappa2d is not None for p in r.kappa2d.points),
                 key=lambda p: p.kappa_perp or 0)
    fig, (ax, bx) = _axes(2)
    for p in kappa:
        ax.errorbar(arr(p.t), arr(p.kappa), yerr=arr(p.kappa_err), fmt="-o", ms=2,
                    label=f"κ⊥ = {p.kappa_perp or 0:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("κ̄_2D(t) = ⟨Δx²⟩/2t")
    ax.legend(fontsize=7)
    kp = arr([p.kappa_perp for p in pts])
    floor = np.nanmin(kp[kp > 0]) / 10 if np.any(kp > 0) else 1e-6
    xs = np.where(kp > 0, kp, floor)
    k2, e2 = arr([p.kappa_2d for p in pts]), arr([p.kappa_2d_err for p in pts])
    bx.errorbar(xs, k2, yerr=e2, fmt="o", label="κ̄_2D (κ⊥ = 0 at left edge)")
    bx.plot(xs, arr([p.heuristic_10 for p in pts]), "s--", mfc="none", label="eq. (10)")
    bx.plot(xs, arr([p.heuristic_11 for p in pts]), "^:", mfc="none", label="eq. (11)")
    ka, kh = arr([p.kappa_A for p in pts]), arr([p.kappa_H for p in pts])
    bx.axhline(float(np.nanmean(ka)), color="k", ls="-.", lw=0.6, label="κ_A")
    bx.axhline(float(np.nanmean(kh)), color="k", ls=":", lw=0.6, label="κ_H")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("κ⊥")
    bx.set_ylabel("converged κ̄_2D")
    bx.legend(fontsize=7)
    fig.suptitle(str(runs[0].spec.get("name", "")))
    rows = [{"kappa_perp": float(kp[i]), "kappa_2d": float(k2[i]), "err": float(e2[i]),
             "t_max": float(arr(kappa[i].t)[-1]), "converged": pts[i].converged,
             "eq10": pts[i].heuristic_10, "eq11": pts[i].heuristic_11,
             "kappa_A": float(ka[i]), "kappa_H": float(kh[i])}
            for i in range(len(pts))]
    return _png(fig), {"points": rows}


# ---- Appendix E -----------------------------------------------------------------------------

def app_e(runs: Sequence[Run]) -> tuple[bytes, dict[str, Any]]:
    """Streaming κ̄(t) against (E1)–(E2), the exact late limit, and the single-phase PRW."""
    fig, axes = _axes(len(runs))
    checks: dict[str, Any] = {"runs": []}
    for ax, run in zip(axes, runs, strict=True):
        rows = []
        for i, (p, th) in enumerate(zip(run.kappa.points, run.theory.points, strict=True)):
            t, k, e = arr(p.t), arr(p.kappa), arr(p.kappa_err)
            col = f"C{i}"
            ax.errorbar(t, k, yerr=e, fmt="o", ms=3, color=col,
                        label=", ".join(f"{a.split('.')[-2]}={v:g}" for a, v in p.params.items())
                        or "single phase")
            styles = {"prw": ":", "e2": "--", "e2_prw": "-", "late": "-.", "early": (0, (1, 3))}
            for name, ls in styles.items():
                if name in th.curves:
                    ax.loglog(t, arr(th.curves[name]), ls=ls, color=col, lw=0.8)
            z = (k - arr(th.curves["prw"])) / e
            row: dict[str, Any] = {"params": p.params, "t": t.tolist(), "kappa": k.tolist(),
                                   "err": e.tolist(),
                                   "late": float(arr(th.curves["late"])[0]),
                                   "max_abs_z_prw": float(np.nanmax(np.abs(z))),
                                   "prw": arr(th.curves["prw"]).tolist()}
            if "early" in th.curves:
                row["early"] = arr(th.curves["early"]).tolist()
                row["e2_prw"] = arr(th.curves.get("e2_prw")).tolist()
                row["e2"] = arr(th.curves.get("e2")).tolist()
            rows.append(row)
        ax.set_xlabel("t")
        ax.set_ylabel("κ̄(t)")
        ax.legend(fontsize=7)
        checks["runs"].append(rows)
    fig.suptitle("Appendix E: a streaming phase (streaming kernel)\n"
                 "dotted: PRW (E1); dashed: E2; solid: E2 with exact PRW; dash-dot: κ̄(∞); "
                 "dots: early limit", fontsize=9)
    return _png(fig), checks


FIGURES: dict[str, Figure] = {
    "fig3": fig3, "fig5": fig5, "figD1": fig5, "appE": app_e,
}
