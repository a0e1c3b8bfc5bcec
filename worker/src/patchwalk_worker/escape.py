"""First-passage statistics of a point: the mean time ⟨τ⟩, 1/⟨τ⟩ and the mean rate ⟨1/τ⟩.

The kernels add, per escape distance L and per task, the sums over the particles that passed
|Δx| ≥ L by the last output time t_max: count, Στ, Στ², Σ1/τ, Σ1/τ² (``ESC_COLUMNS``,
docs/interfaces.md §3). Two escape rates follow (docs/gallery.md, Fig. 4, "Which rate"):

* ``rate`` = 1/⟨τ⟩, the inverse mean first-passage time of the particles that escaped (biased
  *high* when not every particle escaped: the slow ones are missing);
* ``mean_rate`` = ⟨1/τ⟩, the mean rate over *all* N particles of the point — the paper's
  t_esc⁻¹ of eq. (8) and Fig. 4, "the average rate at which CRs first pass a distance L_esc"
  (eq. 8 adds the rates of two populations weighted by their fractions). A particle that has
  not escaped by t_max has 1/τ in [0, 1/t_max], so

      mean_rate       = Σ1/τ / N                          (unescaped counted as 0: a lower bound)
      mean_rate_upper = (Σ1/τ + (N − count)/t_max) / N    (unescaped counted as 1/t_max)

  bracket ⟨1/τ⟩; they coincide when every particle escaped.

Errors follow the rule of :func:`patchwalk_worker.summary.combine_errors` (particle and
between-task estimates; Student-t widening; ``realisations_differ``), for ⟨τ⟩ over the escaped
particles and for ⟨1/τ⟩ over all particles (an unescaped one contributes 0 to Σ1/τ and Σ1/τ²).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .summary import _between_tasks_var, combine_errors, widen


@dataclass(frozen=True)
class EscapeSummary:
    """First-passage statistics past each distance L_esc (arrays over the distances).

    ``mean_time_err`` and ``rate_err`` are widened by t_ν(0.975)/1.96 (ν = ``dof``) and
    combine the particle and between-task estimates like κ̄(t)'s error (:func:`combine_errors`):
    on random media they are errors of the *ensemble* mean time. ``mean_time_err_particles``
    (unwidened) is the error against the exact ⟨τ⟩ of the same realisations
    (:func:`escape_reference_means`). ``mean_rate`` (⟨1/τ⟩ over all particles, the paper's
    t_esc⁻¹ of eq. 8; unescaped particles counted as 0), its widened error ``mean_rate_err``
    (ν = ``mean_rate_dof``) and ``mean_rate_upper`` (unescaped counted as 1/t_max) are NaN for
    stores written before the Σ1/τ columns existed.
    """

    fraction: np.ndarray  # fraction of particles with |Δx| ≥ L by t_max
    mean_time: np.ndarray  # mean first-passage time of those that escaped
    mean_time_err: np.ndarray
    rate: np.ndarray  # 1/mean_time (biased high if fraction < 1: slow ones missing)
    rate_err: np.ndarray
    dof: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_time_err_particles: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_time_err_between: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # ⟨1/τ⟩, lower bound
    mean_rate_err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_rate_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_rate_dof: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _task_counts(n_particles: float | np.ndarray, k: int) -> np.ndarray:
    """Particles of each of the ``k`` tasks: the array given, or a total split equally."""
    n = np.asarray(n_particles, dtype=np.float64)
    if n.ndim == 0:
        return np.full(k, float(n) / max(k, 1))
    if n.shape != (k,):
        raise ValueError(f"n_particles must be a total or one count per task ({k}); "
                         f"got shape {n.shape}")
    return n


def _mean_rate(
    e: np.ndarray, n_k: np.ndarray, t_max: float, distinct_realisations: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(⟨1/τ⟩ lower, its widened error, upper bound, ν) over all particles of the point."""
    n_dist = e.shape[1]
    if e.shape[2] < 5:  # a store written before the Σ1/τ columns
        nan = np.full(n_dist, np.nan)
        return nan, nan, nan, nan
    c = np.sum(e[:, :, 0], axis=0)
    r_k, q_k = e[:, :, 3], e[:, :, 4]
    nk = np.broadcast_to(n_k[:, None], r_k.shape)
    n = float(np.sum(n_k))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.sum(r_k, axis=0) / n
        # every particle is a sample X = 1/τ (0 if it did not escape): within-task variance
        v_k = np.where(nk > 1, np.maximum(q_k - r_k**2 / nk, 0.0) / (nk - 1.0), 0.0)
        var_p = np.sum(nk * v_k, axis=0) / (n * n)
        m_k = r_k / nk
        upper = rate + (n - c) / (n * t_max)
    var_b = _between_tasks_var(nk, m_k, rate)
    var, dof = combine_errors(var_p, var_b, e.shape[0], np.full(n_dist, n),
                              distinct_realisations)
    return rate, np.sqrt(var) * widen(dof), upper, dof


def escape_summary(
    esc: np.ndarray, n_particles: float | np.ndarray, distinct_realisations: bool = True,
    t_max: float = np.inf,
) -> EscapeSummary:
    """Escape statistics (eq. 8) from per-task sums (count, Στ, Στ², Σ1/τ, Σ1/τ²).

    The mean time pools the escaped particles of all tasks. When not every particle escaped
    by t_max, the slow ones are missing: the mean time is biased *low* and the rate 1/⟨τ⟩
    *high*. The mean rate ⟨1/τ⟩ pools all particles (module docstring), bracketed by
    ``mean_rate`` and ``mean_rate_upper``.

    Parameters
    ----------
    esc : ndarray, shape (n_tasks, n_dist, 5)
        Per-task sums (3 columns for stores written before the mean rate: then the
        mean-rate fields are NaN).
    n_particles : float or ndarray, shape (n_tasks,)
        Particles of each task, or their total (then split equally between the tasks).
    distinct_realisations : bool
        Whether every task has its own medium realisation (``realisations_differ(spec)``).
    t_max : float
        Last output time: unescaped particles have 1/τ ≤ 1/t_max (for ``mean_rate_upper``).
    """
    e = np.asarray(esc, dtype=np.float64)
    n_k = _task_counts(n_particles, e.shape[0])
    c_k, s1_k, s2_k = e[:, :, 0], e[:, :, 1], e[:, :, 2]
    c = np.sum(c_k, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(s1_k, axis=0) / c
        v_k = np.where(c_k > 1, np.maximum(s2_k - s1_k**2 / c_k, 0.0) / (c_k - 1.0), 0.0)
        var_p = np.sum(c_k * v_k, axis=0) / (c * c)
        var_p = np.where(c > 1, var_p, np.nan)
        m_k = s1_k / c_k
    var_b = _between_tasks_var(c_k, m_k, mean)
    var, dof = combine_errors(var_p, var_b, e.shape[0], c, distinct_realisations)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.sqrt(var) * widen(dof)
        rate = 1.0 / mean
        rate_err = err / (mean * mean)
        frac = c / np.sum(n_k)
    m_rate, m_err, m_upper, m_dof = _mean_rate(e, n_k, float(t_max), distinct_realisations)
    return EscapeSummary(frac, mean, err, rate, rate_err, dof=dof,
                         mean_time_err_particles=np.sqrt(var_p),
                         mean_time_err_between=np.sqrt(var_b),
                         mean_rate=m_rate, mean_rate_err=m_err, mean_rate_upper=m_upper,
                         mean_rate_dof=m_dof)


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
