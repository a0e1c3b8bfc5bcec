"""Summaries of a point from its tasks' moment sums: κ̄(t) ± stderr, κ̄_2D, the error rule.

All functions take the stored per-task arrays of one point (tasks first, in task order) and
reduce them in that fixed order, so a summary is a pure function of the stored sums.

Error bars (VALIDATION item 10; docs/kernels.md, "Error bars from few tasks"). Whether the
tasks' media differ is known from the spec, not only from the data
(:func:`realisations_differ`):

* an explicit ``medium.patches`` medium (or two phases with equal κ) is the same realisation
  in every task, up to a translation that the uniform start averages out, so the realisation
  spread is zero exactly: the error is the particle error of all the tasks' particles
  (ν = N − 1), whatever the number of tasks;
* a random medium draws a new realisation per task, so the spread between the K task values
  (K − 1 degrees of freedom) carries the realisation scatter: the error is the Student-t
  interval on it (ν = K − 1), never below the particle error (:func:`combine_errors`). With
  one task only the particle error exists (``source = "particles"``: no realisation scatter).

κ̄(t) (:func:`combine_kappa`), κ̄_2D (:func:`kappa_2d`) and the escape statistics
(:func:`patchwalk_worker.escape.escape_summary`) all use this rule. Every reported error is a
standard error widened by t_ν(0.975)/1.96, so that value ± 2·err is a ≈ 95 % interval; ν is
reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .student import Z975, t975

#: Relative tolerance on the late-time log-slope for ``kappa_2d_converged``.
CONVERGED_SLOPE_TOL = 0.05


def realisations_differ(spec: Any) -> bool:
    """Whether the tasks of a point sample different media (so the realisation spread is > 0).

    False for an explicit ``medium.patches`` medium (every task walks the same periodic
    realisation from a uniform start) and for two phases with equal κ at the point's energy
    (every realisation is the same homogeneous medium); True for any other random medium.

    Parameters
    ----------
    spec : patchwalk_client.spec.SweepSpec
        The resolved point spec.
    """
    m = spec.medium
    if m.patches is not None:
        return False
    k_high, k_low = spec.kappa_high_low()
    return bool(k_high != k_low)


def combine_errors(
    var_p: np.ndarray, var_b: np.ndarray, k: int, n: np.ndarray, distinct_realisations: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The variance of a pooled mean and its degrees of freedom from the two estimates.

    ``var_p`` is the particle variance V_p (NaN where there is none: the reference kernel),
    ``var_b`` the between-task variance V_b (NaN for one task), ``n`` the particles behind
    V_p. The error is then √var · t_dof(0.975)/1.96 (:func:`widen`).

    * Distinct realisations, K ≥ 2 tasks: V_b = V_p + V_r estimates the whole variance with
      K − 1 degrees of freedom, so the t_{K−1} interval on V_b covers 95 % for any V_r ≥ 0;
      it is floored, *after* the widening, at the particle error (which V_r ≥ 0 can only
      exceed): (var, dof) = (V_b, K − 1) where √V_b·t_{K−1} ≥ √V_p·t_{N−1}, else (V_p, N − 1).
      Flooring before the widening (max(V_b, V_p)·t_{K−1}) covers ≈ 100 % at K = 2 when the
      two noises are comparable (docs/kernels.md).
    * One realisation (V_r = 0 exactly), or one task: (V_p, N − 1).
    * No particle estimate: (V_b, K − 1).

    Returns
    -------
    var, dof : ndarray
        Unwidened variance and degrees of freedom per element (dof < 1: no error, NaN).
    """
    vp = np.asarray(var_p, dtype=np.float64)
    vb = np.asarray(var_b, dtype=np.float64)
    dof_p = np.broadcast_to(np.asarray(n, dtype=np.float64), vp.shape) - 1.0
    has_p = np.isfinite(vp)
    if k >= 2 and distinct_realisations:
        dof_b = np.full(vp.shape, float(k - 1))
        use_b = ~has_p | (vb * widen(dof_b) ** 2 >= vp * widen(np.maximum(dof_p, 1.0)) ** 2)
    else:
        use_b = ~has_p
    var = np.where(use_b, vb, vp)
    dof = np.where(use_b, float(k - 1), dof_p)
    return np.asarray(var, dtype=np.float64), np.asarray(dof, dtype=np.float64)


def widen(dof: np.ndarray) -> np.ndarray:
    """t_ν(0.975)/1.96 per element (NaN where ν < 1)."""
    flat = np.asarray(dof, dtype=np.float64).ravel()
    out = np.array([t975(float(v)) / Z975 if v >= 1.0 else np.nan for v in flat])
    return out.reshape(np.shape(dof))


@dataclass(frozen=True)
class KappaSummary:
    """κ̄(t) of one point.

    Attributes
    ----------
    kappa, kappa_err : ndarray (n_times,)
        κ̄(t) = ΣΣΔx² / (2t ΣΣ1) (eq. 2) and its error: a standard error widened by
        t_ν(0.975)/1.96, so that κ̄ ± 2·kappa_err covers ≈ 95% for any number of tasks.
    msd, msd_err : ndarray (n_times,)
        ⟨Δx²⟩(t) and its (widened) error.
    kappa_y : ndarray (n_times,)
        ⟨Δy²⟩/(2t) (zero in 1D).
    source : str
        ``"realisations"`` (≥ 2 tasks on distinct realisations, or reference-kernel tasks: the
        between-task spread, floored at the particle error) or ``"particles"`` (ΣΔx⁴ of all
        the particles: one task, or every task on the same realisation).
    n : float
        Total weight ΣΣ1 (particles; number of realisations for the reference).
    dof : ndarray (n_times,)
        Degrees of freedom ν of the error, per time: K − 1 where the spread between tasks
        governs, N − 1 where the particle error does (always for ``"particles"``).
    kappa_err_particles, kappa_err_between : ndarray (n_times,)
        The two unwidened standard errors that were combined: from ΣΔx⁴ within the tasks
        (NaN for the reference kernel) and from the spread between tasks (NaN for one task).
    """

    kappa: np.ndarray
    kappa_err: np.ndarray
    msd: np.ndarray
    msd_err: np.ndarray
    kappa_y: np.ndarray
    source: str
    n: float
    dof: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kappa_err_particles: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kappa_err_between: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _between_tasks_var(n_k: np.ndarray, m_k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Variance of a weighted mean of per-task means (ratio estimator), per column.

    ``var = K/(K-1) Σ_k n_k² (m_k − mean)² / (Σ_k n_k)²`` over the K tasks with n_k > 0 — for
    equal weights the sample variance of the ``m_k`` over K. NaN where K < 2.
    """
    pos = n_k > 0
    k = np.sum(pos, axis=0).astype(np.float64)
    tot = np.sum(n_k, axis=0)
    dev = np.where(pos, n_k * (np.where(pos, m_k, 0.0) - mean[None, :]), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(k >= 2, k / (k - 1) * np.sum(dev * dev, axis=0) / (tot * tot), np.nan)
    return np.asarray(var, dtype=np.float64)


def _particle_var(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Variance of the pooled ⟨Δx²⟩ from the particles: Σ_k n_k v_k / N², v_k the within-task
    variance of Δx² (ddof 1) from ΣΔx⁴; NaN where ΣΔx⁴ is NaN (the reference kernel)."""
    n_k = s[:, :, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        v_k = np.maximum(s[:, :, 3] - s[:, :, 2] ** 2 / n_k, 0.0) / (n_k - 1.0)
        var = np.sum(n_k * v_k, axis=0) / (n * n)
    return np.asarray(var, dtype=np.float64)


def combine_kappa(
    sums: np.ndarray, t: np.ndarray, distinct_realisations: bool = True,
) -> KappaSummary:
    """Combine per-task sums into κ̄(t) with an error that is honest for any number of tasks.

    The variance of the pooled ⟨Δx²⟩ is V = V_p + V_r: particle noise V_p (from ΣΔx⁴ of all
    the particles) plus the realisation spread V_r, seen only in the between-task variance
    V_b = V_p + V_r with K − 1 degrees of freedom. Whether V_r can be > 0 is a property of the
    spec (:func:`realisations_differ`), and :func:`combine_errors` takes

        distinct realisations, K ≥ 2:  err = max(√V_b·t_{K−1}, √V_p·t_{N−1}) / 1.96
        one realisation, or one task:  err = √V_p·t_{N−1} / 1.96

    (times 1/2t for κ̄), reported with the ν of the term that governs (K − 1 or N − 1), so
    κ̄ ± 2 err is an interval of ≥ 95 % for any K and any realisation spread (t_ν/1.96 is 6.5
    at ν = 1, 1.6 at ν = 3, 1.09 at ν = 15). For the reference kernel (no particles) V = V_b,
    ν = K − 1.

    Parameters
    ----------
    sums : ndarray, shape (n_tasks, n_times, 5)
        Per-task Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy² (task order).
    t : ndarray, shape (n_times,)
        Output times.
    distinct_realisations : bool
        Whether every task has its own medium realisation (``realisations_differ(spec)``);
        default True (the conservative choice).

    Returns
    -------
    KappaSummary
    """
    s = np.asarray(sums, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if s.ndim != 3 or s.shape[2] != 5 or s.shape[1] != t.shape[0]:
        raise ValueError(
            f"sums must have shape (n_tasks, {t.shape[0]}, 5) to match the times; got {s.shape}"
        )
    k = s.shape[0]
    n_k = s[:, :, 0]
    n = np.sum(n_k, axis=0)
    msd = np.sum(s[:, :, 2], axis=0) / n
    msd_y = np.sum(s[:, :, 4], axis=0) / n
    var_p = _particle_var(s, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        m_k = s[:, :, 2] / n_k
    var_b = _between_tasks_var(n_k, m_k, msd)
    var, dof = combine_errors(var_p, var_b, k, n, distinct_realisations)
    from_tasks = k >= 2 and (distinct_realisations or not bool(np.all(np.isfinite(var_p))))
    msd_err = np.sqrt(var) * widen(dof)
    return KappaSummary(
        kappa=msd / (2.0 * t),
        kappa_err=msd_err / (2.0 * t),
        msd=msd,
        msd_err=msd_err,
        kappa_y=msd_y / (2.0 * t),
        source="realisations" if from_tasks else "particles",
        n=float(n[0]) if n.shape[0] else 0.0,
        dof=dof,
        kappa_err_particles=np.sqrt(var_p) / (2.0 * t),
        kappa_err_between=np.sqrt(var_b) / (2.0 * t),
    )


def late_window(t: np.ndarray) -> np.ndarray:
    """Indices of the last third of the output times in ln t (at least two points)."""
    lt = np.log(np.asarray(t, dtype=np.float64))
    cut = lt[-1] - (lt[-1] - lt[0]) / 3.0
    idx = np.nonzero(lt >= cut - 1e-12 * max(1.0, abs(cut)))[0]
    if idx.shape[0] < 2:
        idx = np.arange(max(0, lt.shape[0] - 2), lt.shape[0])
    return idx


def _ols_weights(x: np.ndarray) -> np.ndarray:
    """Weights w with slope = Σ w_i y_i for an ordinary least-squares line through (x, y)."""
    xc = x - np.mean(x)
    return np.asarray(xc / np.sum(xc * xc), dtype=np.float64)


@dataclass(frozen=True)
class Kappa2D:
    """Converged κ̄_2D of one point (late-time slope of ⟨Δx²⟩).

    ``kappa_err`` is widened by t_ν(0.975)/1.96 like κ̄(t)'s; ``dof`` is ν and
    ``kappa_err_particles`` / ``kappa_err_between`` the two unwidened estimates combined.
    """

    kappa: float
    kappa_err: float
    converged: bool
    log_slope: float
    dof: float = float("nan")
    kappa_err_particles: float = float("nan")
    kappa_err_between: float = float("nan")


def kappa_2d(sums: np.ndarray, t: np.ndarray, distinct_realisations: bool = True) -> Kappa2D:
    """Converged κ̄_2D = ½ d⟨Δx²⟩/dt from the late-time slope of ⟨Δx²⟩ (Section 4, Fig. 5).

    Fits ⟨Δx²⟩ = 2κt + c by least squares over the last third of the output times in ln t.
    The slope Σ w_i ⟨Δx²⟩_i is linear in the per-task ⟨Δx²⟩, so its between-task variance is
    that of the per-task slopes (K − 1 degrees of freedom). Its particle variance needs the
    covariance of Δx² between output times, which the sums do not hold; it is bounded by
    (Σ|w_i| σ_i)² (σ_i the particle error of ⟨Δx²⟩ at each time, fully correlated), a bound
    that is tight at late times where σ_i grows like t_i (docs/kernels.md: 1.2× the variance
    measured between 300 tasks). The two are combined as for κ̄(t) (:func:`combine_errors`):
    distinct realisations and K ≥ 2 give the t_{K−1} error of V_b floored at the particle
    error, one realisation the particle error (ν = N − 1, N the particles).

    ``converged`` is the rule: the OLS slope of ln⟨Δx²⟩ against ln t over the same window is
    within ``CONVERGED_SLOPE_TOL`` (5 %) of 1, i.e. the walk is diffusive there.

    Parameters
    ----------
    sums : ndarray, shape (n_tasks, n_times, 5)
        Per-task moment sums (as :func:`combine_kappa`).
    t : ndarray, shape (n_times,)
        Output times.
    distinct_realisations : bool
        Whether every task has its own medium realisation (``realisations_differ(spec)``).
    """
    s = np.asarray(sums, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    ks = combine_kappa(s, t, distinct_realisations)
    idx = late_window(t)
    w = _ols_weights(t[idx])
    slope = float(np.sum(w * ks.msd[idx]))
    n_k = s[:, idx, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        m_k = s[:, idx, 2] / n_k
    slope_k = np.sum(w[None, :] * m_k, axis=1)
    var_b = _between_tasks_var(n_k[:, -1:], slope_k[:, None], np.array([slope]))
    sd_p = 2.0 * t[idx] * ks.kappa_err_particles[idx]
    var_p = np.array([np.sum(np.abs(w) * sd_p) ** 2])
    n = np.sum(n_k[:, -1:], axis=0)
    var, dof = combine_errors(var_p, var_b, s.shape[0], n, distinct_realisations)
    err = float(np.sqrt(var[0]) * widen(dof)[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        lw = _ols_weights(np.log(t[idx]))
        log_slope = float(np.sum(lw * np.log(ks.msd[idx])))
    converged = bool(np.isfinite(log_slope) and abs(log_slope - 1.0) <= CONVERGED_SLOPE_TOL)
    return Kappa2D(kappa=slope / 2.0, kappa_err=err / 2.0, converged=converged,
                   log_slope=log_slope, dof=float(dof[0]),
                   kappa_err_particles=float(np.sqrt(var_p[0])) / 2.0,
                   kappa_err_between=float(np.sqrt(var_b[0])) / 2.0)
