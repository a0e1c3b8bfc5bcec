"""Results of a finished sweep as typed records: κ̄, κ̄_2D, escape and theory, assembled once.

When a sweep is finalised (:meth:`patchwalk_worker.store.SweepStore.write_summaries`),
:func:`summarise` reduces every point's task arrays once — κ̄(t) ± error (eq. 2), the
realisation and ensemble means κ_A, κ_H (eqs 3–5), the converged κ̄_2D with the heuristics of
eqs (10) and (11), the escape rates (eq. 8) and the theory curves — into :class:`PointSummary`
objects. Two views are written from them: the xarray-ready arrays
(:mod:`patchwalk_worker.dataset`) and the records every reader serves
(:func:`write_results`, ``STORE/results.json``, derived data written atomically).
:func:`read_results` reads the records back; it computes nothing, so a GET is cheap.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from patchwalk_client.errors import UnknownAxisError
from patchwalk_client.models import (
    DensityPoint,
    EscapePoint,
    Kappa2DPoint,
    KappaPoint,
    SweepResults,
    TheoryPoint,
    TheoryRange,
    filter_points,
)

from patchwalk_worker.density import density_record
from patchwalk_worker.escape import EscapeSummary, escape_reference_means, escape_summary
from patchwalk_worker.kernels.registry import get_kernel
from patchwalk_worker.media import ensemble_means
from patchwalk_worker.summary import (
    Kappa2D,
    KappaSummary,
    combine_kappa,
    kappa_2d,
    realisations_differ,
)
from patchwalk_worker.task import task_particles
from patchwalk_worker.theory import kappa_2d_heuristic, theory_curves
from patchwalk_worker.theory_validity import escape_rate_8_values, validated_curves
from patchwalk_worker.tolerance import Decision

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.spec import SweepSpec

    from patchwalk_worker.store import SweepStore

__all__ = [
    "RESULTS_FILE", "PointSummary", "ResultsError", "UnknownAxisError", "filter_points",
    "read_results", "records", "summarise", "write_results",
]

#: File of the records, beside the summary arrays at the store's root.
RESULTS_FILE = "results.json"


class ResultsError(ValueError):
    """A store whose results cannot be read; the message says what to do."""


@dataclass(frozen=True)
class PointSummary:
    """Everything derived from one point's tasks (full precision; NaN where undefined).

    Attributes
    ----------
    params : dict
        Values of the sweep axes at this point.
    t, distances : ndarray
        Output times and escape distances of the point.
    kappa : KappaSummary
        κ̄(t) ± error, ⟨Δx²⟩, κ_y (eq. 2).
    realisation : ndarray, shape (2,)
        Mean κ_A, κ_H over the tasks' realisations (eqs 3–4), reduced over the task axis
        (the stored arrays and ``/kappa2d``).
    realisation_columns : tuple of float
        The same means reduced column by column (numpy's pairwise sum), as the §9 point
        shape (``/kappa``, ``patchwalk run --json``) has always had them; with 8 or more tasks
        it may differ from ``realisation`` in the last bit. Both are kept so that stores and
        REST bodies stay bitwise what they were.
    ensemble : tuple of float
        κ_A, κ_H of the ensemble (eq. 5).
    kappa_2d : Kappa2D or None
        Converged κ̄_2D (2D only).
    kappa_perp : float or None
        Energy-scaled κ⊥ (2D only).
    heuristic : tuple of float or None
        κ̄_2D of eqs (10) and (11) (2D only).
    escape : EscapeSummary or None
        First-passage statistics (eq. 8) when the point has escape distances.
    escape_reference : ndarray or None, shape (n_dist, 2)
        Exact ⟨τ⟩, ⟨τ²⟩ on the point's realisations (first_passage.py), weighted by the
        tasks' particles as the Monte-Carlo mean is.
    curves : dict
        Theory curves at ``t`` (:func:`patchwalk_worker.theory.theory_curves`), NaN outside
        their range of validity (:mod:`patchwalk_worker.theory_validity`).
    n_particles, n_tasks, steps : int
    validity : dict
        ``{curve: {"t_min", "t_max", "reason"}}`` of every curve.
    rate_eq8 : ndarray or None
        Escape-rate estimate of eq. (8) at ``distances`` (two-phase media).
    density : DensityPoint or None
        n(x, t) of a point source (``[density]``, reference kernel; Fig. 2).
    tolerance : tuple or None
        ``(target_rel_err, Decision)`` of a point run to a tolerance; ``n_particles``,
        ``n_tasks``, ``steps`` are then of the tasks the summaries use (the stopping prefix).
    """

    params: dict[str, Any]
    t: np.ndarray
    distances: np.ndarray
    kappa: KappaSummary
    realisation: np.ndarray
    realisation_columns: tuple[float, float]
    ensemble: tuple[float, float]
    kappa_2d: Kappa2D | None
    kappa_perp: float | None
    heuristic: tuple[float, float] | None
    escape: EscapeSummary | None
    escape_reference: np.ndarray | None
    curves: dict[str, np.ndarray]
    n_particles: int
    n_tasks: int
    steps: int
    validity: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_eq8: np.ndarray | None = None
    density: DensityPoint | None = None
    tolerance: tuple[float, Decision] | None = None  # (target_rel_err, its decision)


def summarise(store: SweepStore) -> list[PointSummary]:
    """Reduce every point of a complete store, in point order (fixed reduction order)."""
    out = []
    two_d = store.spec.dimensions == 2
    for i, pt in enumerate(store.points):
        d = store.read_point(i)
        t = store.times[i]
        spec = pt.spec
        decision = store.decisions()[i]
        per_task = np.array([task_particles(spec, k) for k in range(decision.tasks)],
                            dtype=np.float64)
        n_particles = int(np.sum(per_task))
        stop = spec.escape.stop  # particles stopped at escape: no κ̄, κ̄_2D, theory
        heuristic = None
        if two_d and not stop:
            h = kappa_2d_heuristic(spec)
            heuristic = (float(h["eq10"]), float(h["eq11"]))
        dist = store.distances[i]
        r = np.asarray(d["realisation"], dtype=np.float64).reshape(-1, 2)
        t_out = np.asarray(spec.output_times(), dtype=np.float64)
        curves, validity = ({}, {}) if stop else validated_curves(spec, t_out, _curves(spec))
        distinct = realisations_differ(spec)  # the realisation spread can be > 0
        out.append(PointSummary(
            params=pt.params,
            t=t,
            distances=dist,
            kappa=_omitted_kappa(t) if stop else combine_kappa(d["sums"], t, distinct),
            realisation=np.mean(d["realisation"], axis=0),
            realisation_columns=(float(np.mean(r[:, 0])), float(np.mean(r[:, 1]))),
            ensemble=ensemble_means(spec),
            kappa_2d=kappa_2d(d["sums"], t, distinct) if two_d and not stop else None,
            kappa_perp=spec.kappa_perp_scaled() if two_d else None,
            heuristic=heuristic,
            escape=escape_summary(d["esc"], per_task, distinct, float(t[-1])) if dist.shape[0]
            else None,
            # each realisation weighted by its particles
            escape_reference=escape_reference_means(d["esc_reference"], per_task)
            if dist.shape[0] else None,
            curves=curves,
            n_particles=n_particles,
            n_tasks=int(store.n_tasks[i]),
            steps=int(np.sum(d["steps"])),
            validity=validity,
            rate_eq8=escape_rate_8_values(spec, dist),
            density=None if spec.density is None else density_record(spec, i, pt.params),
            tolerance=(None if spec.particles.target_rel_err is None
                       else (spec.particles.target_rel_err, decision)),
        ))
    return out


def _omitted_kappa(t: np.ndarray) -> KappaSummary:
    """κ̄(t) of a sweep with ``escape.stop``: NaN (the particles still walking at t are a
    biased sample, so nothing is served; the records leave κ̄, κ̄_2D and theory out)."""
    nan = np.full(t.shape, np.nan)
    return KappaSummary(kappa=nan, kappa_err=nan, msd=nan, msd_err=nan, kappa_y=nan,
                        source="omitted (escape.stop)", n=0.0, dof=nan,
                        kappa_err_particles=nan, kappa_err_between=nan)


def _curves(spec: SweepSpec) -> dict[str, np.ndarray]:
    """The common theory curves of a point, plus those its kernel declares."""
    t = np.asarray(spec.output_times(), dtype=np.float64)
    curves = dict(theory_curves(spec, t))
    own = get_kernel(spec.kernel).curves
    if own is not None:
        curves.update(own(spec, t))
    return curves


def _num(x: Any) -> float | None:
    """A finite float, or None for NaN/±inf (JSON has no NaN)."""
    f = float(x)
    return f if math.isfinite(f) else None


def _nums(xs: Any) -> list[float | None]:
    return [_num(x) for x in np.asarray(xs, dtype=np.float64).tolist()]


def _opt(xs: Any) -> list[float | None] | None:
    """:func:`_nums`, or None (the field left out) when every value is NaN (an old store)."""
    out = _nums(xs)
    return out if any(v is not None for v in out) else None


def _tolerance(p: PointSummary) -> dict[str, Any]:
    """The run-to-tolerance fields of a point's ``/kappa`` record (none without a target)."""
    if p.tolerance is None:
        return {}
    target, d = p.tolerance
    return {"target_rel_err": target, "rel_err": _num(d.rel_err),
            "limiting_time": _num(d.limiting_time), "target_reached": d.reached}


def records(points: Sequence[PointSummary], dimensions: int,
            escape_stop: bool = False) -> SweepResults:
    """The typed records (REST bodies, ``patchwalk run --json``) of summarised points.

    ``escape_stop`` (the spec's ``escape.stop``): only the escape records are written;
    ``kappa``, ``kappa2d`` and ``theory`` are empty and ``SweepResults.escape_stop`` is true.
    """
    kappa, kappa2d, escape, theory = [], [], [], []
    for p in points:
        if escape_stop:
            escape.append(_escape_point(p))
            continue
        ka, kh = (_num(v) for v in p.realisation)
        kappa.append(KappaPoint(
            params=p.params, t=_nums(p.t), kappa=_nums(p.kappa.kappa),
            kappa_err=_nums(p.kappa.kappa_err), kappa_err_source=p.kappa.source,
            kappa_err_dof=_nums(p.kappa.dof),
            kappa_err_particles=_nums(p.kappa.kappa_err_particles),
            kappa_err_between=_nums(p.kappa.kappa_err_between),
            kappa_A=_num(p.realisation_columns[0]), kappa_H=_num(p.realisation_columns[1]),
            kappa_A_ensemble=_num(p.ensemble[0]), kappa_H_ensemble=_num(p.ensemble[1]),
            kappa_perp=None if p.kappa_perp is None else _num(p.kappa_perp),
            n_particles=p.n_particles, n_tasks=p.n_tasks, **_tolerance(p),
        ))
        if p.kappa_2d is not None and p.heuristic is not None:
            k2 = p.kappa_2d
            kappa2d.append(Kappa2DPoint(
                params=p.params, kappa_2d=_num(k2.kappa), kappa_2d_err=_num(k2.kappa_err),
                converged=k2.converged, log_slope=_num(k2.log_slope), kappa_A=ka, kappa_H=kh,
                kappa_perp=None if p.kappa_perp is None else _num(p.kappa_perp),
                heuristic_10=_num(p.heuristic[0]), heuristic_11=_num(p.heuristic[1]),
                n_particles=p.n_particles, n_tasks=p.n_tasks,
            ))
        escape.append(_escape_point(p))
        theory.append(TheoryPoint(params=p.params, t=_nums(p.t),
                                  curves={k: _nums(v) for k, v in p.curves.items()},
                                  validity={k: TheoryRange(**v) for k, v in p.validity.items()}))
    return SweepResults(kappa=kappa, kappa2d=kappa2d, escape=escape, theory=theory,
                        dimensions=2 if dimensions == 2 else 1,
                        density=[p.density for p in points if p.density is not None],
                        escape_stop=escape_stop)


def _escape_point(p: PointSummary) -> EscapePoint:
    """Monte-Carlo escape statistics of a point beside the exact values on its realisations."""
    es, ref = p.escape, p.escape_reference
    eq8 = None if p.rate_eq8 is None else _nums(p.rate_eq8)
    if es is None or ref is None:
        return EscapePoint(params=p.params, distance=_nums(p.distances), rate_eq8=eq8)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(ref[:, 1] - ref[:, 0] ** 2, 0.0))
        rate_ref = 1.0 / ref[:, 0]
    return EscapePoint(
        params=p.params, distance=_nums(p.distances), fraction=_nums(es.fraction),
        mean_time=_nums(es.mean_time), mean_time_err=_nums(es.mean_time_err),
        rate=_nums(es.rate), rate_err=_nums(es.rate_err),
        mean_rate=_opt(es.mean_rate), mean_rate_err=_opt(es.mean_rate_err),
        mean_rate_upper=_opt(es.mean_rate_upper),
        mean_time_reference=_nums(ref[:, 0]), time_sd_reference=_nums(sd),
        rate_reference=_nums(rate_ref), rate_eq8=eq8,
    )


def write_results(store_path: str | Path, results: SweepResults) -> None:
    """Write the records to ``STORE/results.json`` atomically (temporary file + rename).

    The file gets the same permissions as the store's other files (the process umask).
    """
    folder = Path(store_path)
    tmp = folder / f".{RESULTS_FILE}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with tmp.open("x", encoding="utf-8") as fh:
            fh.write(results.model_dump_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / RESULTS_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_results(store_path: str | Path) -> SweepResults:
    """The records of a finalised store (computes nothing).

    Raises
    ------
    ResultsError
        If ``store_path`` is not a patchwalk store or the sweep has not been finalised.
    """
    folder = Path(store_path)
    path = folder / RESULTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not (folder / "zarr.json").exists():
            raise ResultsError(f"{folder} is not a patchwalk store; check the path") from None
        raise ResultsError(
            f"{folder} has no results yet: the sweep is not finalised. Run it to completion "
            "(patchwalk run SPEC --out STORE resumes it), which writes the results."
        ) from None
    return SweepResults.model_validate_json(text)
