"""Summaries of a point from its tasks' moment sums: κ̄(t) ± stderr, κ̄_2D, escape rates.

All functions take the stored per-task arrays of one point (tasks first, in task order) and
reduce them in that fixed order, so a summary is a pure function of the stored sums.

Error bars (VALIDATION item 10): every task has its own medium realisation, so with two or
more tasks the error of κ̄(t) combines the spread *between tasks* (realisation scatter plus
particle noise, K − 1 degrees of freedom) with the particle error from ΣΔx⁴ — never below the
latter — and is widened by the Student-t quantile of its degrees of freedom
(:func:`combine_kappa`). With one task it can only come from the particles;
``kappa_err_source`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .student import Z975, t975

#: Relative tolerance on the late-time log-slope for ``kappa_2d_converged``.
CONVERGED_SLOPE_TOL = 0.05


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
        ``"realisations"`` (≥ 2 tasks: between-task spread combined with the particle error)
        or ``"particles"`` (ΣΔx⁴ of one task).
    n : float
        Total weight ΣΣ1 (particles; number of realisations for the reference).
    dof : ndarray (n_times,)
        Welch–Satterthwaite degrees of freedom ν of the error (inf: particle error only).
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


def _between_tasks_err(n_k: np.ndarray, m_k: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Standard error of a weighted mean of per-task means (ratio estimator).

    ``var = K/(K-1) Σ_k n_k² (m_k − mean)² / (Σ_k n_k)²`` — for equal weights this is the
    sample standard deviation of the ``m_k`` over √K.
    """
    k = n_k.shape[0]
    tot = np.sum(n_k, axis=0)
    dev = n_k * (m_k - mean[None, :])
    var = k / (k - 1) * np.sum(dev * dev, axis=0) / (tot * tot)
    return np.asarray(np.sqrt(var), dtype=np.float64)


def _particle_var(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Variance of the pooled ⟨Δx²⟩ from the particles: Σ_k n_k v_k / N², v_k the within-task
    variance of Δx² (ddof 1) from ΣΔx⁴; NaN where ΣΔx⁴ is NaN (the reference kernel)."""
    n_k = s[:, :, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        v_k = np.maximum(s[:, :, 3] - s[:, :, 2] ** 2 / n_k, 0.0) / (n_k - 1.0)
        var = np.sum(n_k * v_k, axis=0) / (n * n)
    return np.asarray(var, dtype=np.float64)


def combine_kappa(sums: np.ndarray, t: np.ndarray) -> KappaSummary:
    """Combine per-task sums into κ̄(t) with an error that is honest for any number of tasks.

    Every task has its own medium realisation (VALIDATION item 10), so the variance of the
    pooled ⟨Δx²⟩ is V = V_p + V_r: particle noise V_p (known well, from ΣΔx⁴ of all the
    particles) plus the realisation spread V_r (seen only in the spread between K tasks, whose
    variance estimate V_b = V_p + V_r has K − 1 degrees of freedom). The estimate is

        V = V_p + max(V_b − V_p, 0) = max(V_b, V_p)          (never below the particle error)
        ν = (K − 1) (V / V_r)²                               (Welch–Satterthwaite; ∞ if V_r = 0)

    and the reported error is √V · t_ν(0.975)/1.96, so κ̄ ± 2 err is a ≈ 95% interval also
    with 2 or 4 tasks (ν = 1 widens by 6.5, ν = 3 by 1.6). One task: V = V_p, ν = N − 1.
    For the reference kernel (no particles) V_p = 0 and V = V_b with ν = K − 1.

    Parameters
    ----------
    sums : ndarray, shape (n_tasks, n_times, 5)
        Per-task Σ1, ΣΔx, ΣΔx², ΣΔx⁴, ΣΔy² (task order).
    t : ndarray, shape (n_times,)
        Output times.

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
    if k >= 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            m_k = s[:, :, 2] / n_k
        err_b = _between_tasks_err(n_k, m_k, msd)
        var_b = err_b * err_b
        vp = np.where(np.isnan(var_p), 0.0, var_p)
        var_r = np.maximum(var_b - vp, 0.0)
        var = vp + var_r
        with np.errstate(invalid="ignore", divide="ignore"):
            dof = np.where(var_r > 0.0, (k - 1) * (var / np.where(var_r > 0, var_r, 1.0)) ** 2,
                           np.inf)
        source = "realisations"
    else:
        err_b = np.full(t.shape, np.nan)
        var = var_p
        dof = np.maximum(n - 1.0, 1.0)
        source = "particles"
    widen = np.array([t975(float(v)) / Z975 if np.isfinite(v) else 1.0 for v in dof])
    msd_err = np.sqrt(var) * widen
    return KappaSummary(
        kappa=msd / (2.0 * t),
        kappa_err=msd_err / (2.0 * t),
        msd=msd,
        msd_err=msd_err,
        kappa_y=msd_y / (2.0 * t),
        source=source,
        n=float(n[0]) if n.shape[0] else 0.0,
        dof=np.asarray(dof, dtype=np.float64),
        kappa_err_particles=np.sqrt(var_p) / (2.0 * t),
        kappa_err_between=err_b / (2.0 * t),
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
    """Converged κ̄_2D of one point (late-time slope of ⟨Δx²⟩)."""

    kappa: float
    kappa_err: float
    converged: bool
    log_slope: float


def kappa_2d(sums: np.ndarray, t: np.ndarray) -> Kappa2D:
    """Converged κ̄_2D = ½ d⟨Δx²⟩/dt from the late-time slope of ⟨Δx²⟩ (Section 4, Fig. 5).

    Fits ⟨Δx²⟩ = 2κt + c by least squares over the last third of the output times in ln t.
    The slope is linear in the per-task ⟨Δx²⟩, so its error is the spread of the per-task
    slopes (≥ 2 tasks); with one task it is bounded by Σ|w_i| σ_i (σ_i the particle error of
    ⟨Δx²⟩ at each time, taken fully correlated).

    ``converged`` is the rule: the OLS slope of ln⟨Δx²⟩ against ln t over the same window is
    within ``CONVERGED_SLOPE_TOL`` (5 %) of 1, i.e. the walk is diffusive there.
    """
    s = np.asarray(sums, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    ks = combine_kappa(s, t)
    idx = late_window(t)
    w = _ols_weights(t[idx])
    slope = float(np.sum(w * ks.msd[idx]))
    if s.shape[0] >= 2:
        n_k = s[:, idx, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            m_k = s[:, idx, 2] / n_k
        slope_k = np.sum(w[None, :] * m_k, axis=1)
        wt = n_k[:, -1]
        err = float(_between_tasks_err(wt[:, None], slope_k[:, None], np.array([slope]))[0])
    else:
        err = float(np.sum(np.abs(w) * ks.msd_err[idx]))
    with np.errstate(invalid="ignore", divide="ignore"):
        lw = _ols_weights(np.log(t[idx]))
        log_slope = float(np.sum(lw * np.log(ks.msd[idx])))
    converged = bool(np.isfinite(log_slope) and abs(log_slope - 1.0) <= CONVERGED_SLOPE_TOL)
    return Kappa2D(kappa=slope / 2.0, kappa_err=err / 2.0, converged=converged, log_slope=log_slope)


@dataclass(frozen=True)
class EscapeSummary:
    """First-passage statistics past each distance L_esc (arrays over the distances)."""

    fraction: np.ndarray  # fraction of particles with |Δx| ≥ L by t_max
    mean_time: np.ndarray  # mean first-passage time of those that escaped
    mean_time_err: np.ndarray
    rate: np.ndarray  # t_esc⁻¹ = 1/mean_time (biased high if fraction < 1: slow ones missing)
    rate_err: np.ndarray


def escape_summary(esc: np.ndarray, n_particles: float) -> EscapeSummary:
    """Escape rates t_esc⁻¹ (eq. 8) from per-task sums (count, Στ, Στ²).

    Parameters
    ----------
    esc : ndarray, shape (n_tasks, n_dist, 3)
    n_particles : float
        Total particles of the point.
    """
    e = np.asarray(esc, dtype=np.float64)
    c = np.sum(e[:, :, 0], axis=0)
    s1 = np.sum(e[:, :, 1], axis=0)
    s2 = np.sum(e[:, :, 2], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / c
        var = np.maximum(s2 / c - mean * mean, 0.0) / (c - 1.0)
        err = np.sqrt(var)
        rate = 1.0 / mean
        rate_err = err / (mean * mean)
        frac = c / n_particles
    return EscapeSummary(frac, mean, err, rate, rate_err)


def escape_reference_means(ref: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Exact ⟨τ⟩, ⟨τ²⟩ of a point: the tasks' realisation values weighted by their particles.

    The Monte-Carlo mean time of :func:`escape_summary` pools the particles of all tasks, so its
    deterministic counterpart weights each realisation's exact moments (first_passage.py, FP1)
    by the particles that sampled it.

    Parameters
    ----------
    ref : ndarray, shape (n_tasks, n_dist, 2)
        Per task, per distance: exact ⟨τ⟩ and ⟨τ²⟩ of that realisation.
    weights : ndarray, shape (n_tasks,)
        Particles of each task.

    Returns
    -------
    ndarray, shape (n_dist, 2)
    """
    r = np.asarray(ref, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    return np.asarray(np.tensordot(w / np.sum(w), r, axes=(0, 0)), dtype=np.float64)
