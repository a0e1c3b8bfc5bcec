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


def _pooled(
    n_k: np.ndarray, s1_k: np.ndarray, s2_k: np.ndarray, distinct_realisations: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pooled mean Σs1/Σn of a per-particle quantity from per-task sums (n, Σx, Σx²),
    shape (n_tasks, n_dist): (mean, widened error, ν, particle variance, between-task
    variance), the error by :func:`combine_errors` (the rule of κ̄(t)'s)."""
    n = np.sum(n_k, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(s1_k, axis=0) / n
        v_k = np.where(n_k > 1, np.maximum(s2_k - s1_k**2 / n_k, 0.0) / (n_k - 1.0), 0.0)
        var_p = np.where(n > 1, np.sum(n_k * v_k, axis=0) / (n * n), np.nan)
        var_b = _between_tasks_var(n_k, s1_k / n_k, mean)
    var, dof = combine_errors(var_p, var_b, n_k.shape[0], n, distinct_realisations)
    return mean, np.sqrt(var) * widen(dof), dof, var_p, var_b


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
    c_k = e[:, :, 0]
    c, n = np.sum(c_k, axis=0), float(np.sum(n_k))
    # the mean time over the escaped particles (count, Στ, Στ²)
    mean, err, dof, var_p, var_b = _pooled(c_k, e[:, :, 1], e[:, :, 2], distinct_realisations)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = 1.0 / mean
        rate_err = err / (mean * mean)
    # the mean rate ⟨1/τ⟩ over all particles: 1/τ, or 0 for one not escaped (n, Σ1/τ, Σ1/τ²)
    nan = np.full(e.shape[1], np.nan)
    m_rate, m_err, m_dof, m_upper = nan, nan, nan, nan
    if e.shape[2] >= 5:  # not a store written before the Σ1/τ columns
        nk = np.broadcast_to(n_k[:, None], c_k.shape)
        m_rate, m_err, m_dof, _, _ = _pooled(nk, e[:, :, 3], e[:, :, 4], distinct_realisations)
        m_upper = m_rate + (n - c) / (n * float(t_max))
    return EscapeSummary(c / n, mean, err, rate, rate_err, dof=dof,
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
