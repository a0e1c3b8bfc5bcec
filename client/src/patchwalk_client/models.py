"""Wire models of the REST API (shared by the service and the client; pydantic only)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from .errors import UnknownAxisError

SweepState = Literal["queued", "running", "done", "failed", "cancelled"]
TERMINAL_STATES: tuple[str, ...] = ("done", "failed", "cancelled")


class SweepStatus(BaseModel):
    """State and progress of one sweep (``GET /v1/sweeps/{id}``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    state: SweepState
    created: str = Field(description="ISO 8601, UTC")
    updated: str = Field(description="ISO 8601, UTC")
    error: str | None = None
    n_points: int = 0
    tasks_done: int = 0
    tasks_total: int = 0
    steps_done: float = 0.0
    steps_per_second: float | None = None
    eta_seconds: float | None = None
    estimated_steps: float | None = None
    spec_hash: str = ""
    links: dict[str, str] = Field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True once the sweep is done, failed or cancelled."""
        return self.state in TERMINAL_STATES


class SweepPage(BaseModel):
    """One page of ``GET /v1/sweeps``."""

    items: list[SweepStatus]
    total: int
    limit: int
    offset: int
    next: str | None = None


class Record(BaseModel):
    """A response model that scripts may also read like the JSON dict it is sent as.

    ``record["kappa"]``, ``record.get("kappa_perp")``, ``"kappa_perp" in record``,
    ``record.keys()`` and ``record == {...}`` behave as on ``record.to_dict()``: the JSON body
    (NaN as ``None``, optional keys left out when they do not apply). Nested records come back
    as records (``results["points"][0]["kappa"]`` works).
    """

    model_config = ConfigDict(extra="allow")

    #: Keys left out of the JSON body when their value is ``None`` (they do not apply).
    _omit_if_none: ClassVar[tuple[str, ...]] = ()

    # no return annotation on purpose: pydantic then keeps the model's own JSON schema
    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data: dict[str, Any] = handler(self)
        for key in self._omit_if_none:
            if data.get(key, 0) is None:
                del data[key]
        return data

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of this record as plain Python objects."""
        out: dict[str, Any] = self.model_dump(mode="json")
        return out

    def _has(self, key: object) -> bool:
        """Whether ``key`` is in the JSON body (an omitted optional key is not)."""
        if key in type(self).model_fields:
            return not (key in self._omit_if_none and getattr(self, str(key)) is None)
        return key in (self.__pydantic_extra__ or {})

    def __getitem__(self, key: str) -> Any:
        if not self._has(key):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``record[key]``, or ``default`` when the key is not in the JSON body."""
        return getattr(self, key) if self._has(key) else default

    def __contains__(self, key: object) -> bool:
        return self._has(key)

    def keys(self) -> list[str]:
        """Keys of the JSON body, in order."""
        names = [*type(self).model_fields, *(self.__pydantic_extra__ or {})]
        return [k for k in names if self._has(k)]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


Floats = list[float | None]


class ResultsPage(Record):
    """What every result body says besides its points: whether it is partial.

    A running or cancelled sweep answers with the results of its finished tasks
    (``partial: true``, ``tasks_done`` of ``tasks_total``); the keys are left out for a
    finished sweep.
    """

    _omit_if_none = ("partial", "tasks_done", "tasks_total")

    partial: bool | None = Field(
        default=None, description="true: from the finished tasks of an unfinished sweep")
    tasks_done: int | None = Field(default=None, description="tasks the partial results hold")
    tasks_total: int | None = Field(default=None, description="tasks of the whole sweep")


class KappaPoint(Record):
    """κ̄(t) of one point: the ``patchwalk run --json`` shape (docs/interfaces.md §9)."""

    _omit_if_none = ("kappa_perp", "kappa_err_dof", "kappa_err_particles", "kappa_err_between",
                     "target_rel_err", "rel_err", "limiting_time", "target_reached")

    params: dict[str, Any] = Field(description="values of the sweep axes at this point")
    t: Floats = Field(description="output times")
    kappa: Floats = Field(description="κ̄(t) = ⟨Δx²⟩/2t (eq. 2)")
    kappa_err: Floats = Field(description="standard error of κ̄(t)")
    kappa_err_source: str = Field(description='"realisations" (≥ 2 tasks, each its own medium '
                                  'realisation) or "particles"')
    kappa_err_dof: Floats | None = Field(
        default=None, description="degrees of freedom of kappa_err: K − 1 (spread between "
        "realisations) or N − 1 (particles), whichever term governs")
    kappa_err_particles: Floats | None = Field(
        default=None, description="standard error from the particle spread alone")
    kappa_err_between: Floats | None = Field(
        default=None, description="standard error from the spread between realisations alone")
    kappa_A: float | None = Field(description="arithmetic mean κ of the realisations (eq. 3)")
    kappa_H: float | None = Field(description="harmonic mean κ of the realisations (eq. 4)")
    kappa_A_ensemble: float | None = Field(description="κ_A of the ensemble (eq. 5)")
    kappa_H_ensemble: float | None = Field(description="κ_H of the ensemble (eq. 5)")
    kappa_perp: float | None = Field(default=None, description="κ⊥ after energy scaling (2D only)")
    n_particles: int
    n_tasks: int
    target_rel_err: float | None = Field(
        default=None, description="particles.target_rel_err (run to a tolerance only)")
    rel_err: float | None = Field(
        default=None, description="largest kappa_err/|κ̄| over the target times at n_tasks")
    limiting_time: float | None = Field(
        default=None, description="the output time of that largest relative error")
    target_reached: bool | None = Field(
        default=None, description="whether rel_err < target_rel_err (else max_count was hit)")


class KappaResults(ResultsPage):
    """``GET /v1/sweeps/{id}/kappa``."""

    points: list[KappaPoint]


class Kappa2DPoint(Record):
    """Converged κ̄_2D of one point of a 2D sweep, with the heuristics of eqs (10), (11)."""

    params: dict[str, Any]
    kappa_2d: float | None = Field(description="½ d⟨Δx²⟩/dt over the last third of ln t")
    kappa_2d_err: float | None
    converged: bool = Field(description="late-time log-slope of ⟨Δx²⟩ within 5 % of 1")
    log_slope: float | None
    kappa_A: float | None
    kappa_H: float | None
    kappa_perp: float | None
    heuristic_10: float | None = Field(description="eq. (10): PHM at τ⊥ = l⊥²/κ⊥")
    heuristic_11: float | None = Field(description="eq. (11): power-law scaling")
    n_particles: int
    n_tasks: int


class Kappa2DResults(ResultsPage):
    """``GET /v1/sweeps/{id}/kappa2d``."""

    points: list[Kappa2DPoint]


class EscapePoint(Record):
    """First-passage statistics of one point per escape distance (eq. 8).

    Two rates: ``rate`` = 1/⟨τ⟩ (inverse mean first-passage time of the escaped particles)
    and ``mean_rate`` = ⟨1/τ⟩ (mean rate over all particles: the paper's t_esc⁻¹ of eq. 8 and
    Fig. 4), bracketed by ``mean_rate`` (unescaped particles count 0) and ``mean_rate_upper``
    (they count 1/t_max); the two coincide when ``fraction`` is 1.
    """

    _omit_if_none = ("fraction", "mean_time", "mean_time_err", "rate", "rate_err", "rate_eq8",
                     "mean_time_reference", "time_sd_reference", "rate_reference",
                     "mean_rate", "mean_rate_err", "mean_rate_upper")

    params: dict[str, Any]
    distance: Floats = Field(description="escape distances L_esc (|Δx| ≥ L)")
    fraction: Floats | None = Field(default=None, description="fraction escaped by t_max")
    mean_time: Floats | None = Field(
        default=None, description="mean first-passage time ⟨τ⟩ of the escaped particles")
    mean_time_err: Floats | None = None
    rate: Floats | None = Field(
        default=None, description="1/⟨τ⟩ = 1/mean_time, the inverse mean first-passage time "
        "(not the paper's mean rate: see mean_rate)")
    rate_err: Floats | None = None
    mean_rate: Floats | None = Field(
        default=None, description="⟨1/τ⟩, the mean escape rate over all particles (eq. 8, "
        "Fig. 4's t_esc⁻¹); particles not escaped by t_max count 0, so it is a lower bound "
        "when fraction < 1 (absent for stores written before it)")
    mean_rate_err: Floats | None = Field(
        default=None, description="error of mean_rate (particle and realisation spread, "
        "widened like mean_time_err)")
    mean_rate_upper: Floats | None = Field(
        default=None, description="upper bound of ⟨1/τ⟩: particles not escaped by t_max "
        "count 1/t_max")
    mean_time_reference: Floats | None = Field(
        default=None, description="exact ⟨τ⟩ on the same realisations (uniform start; NaN in "
        "2D with κ⊥ > 0)")
    time_sd_reference: Floats | None = Field(
        default=None, description="exact standard deviation of τ on the same realisations")
    rate_reference: Floats | None = Field(default=None, description="1/mean_time_reference")
    rate_eq8: Floats | None = Field(
        default=None,
        description="eq. (8) estimate of t_esc⁻¹ (two-phase media; meant for "
                    "l_min ≪ L_esc ≪ l_max)")


class EscapeResults(ResultsPage):
    """``GET /v1/sweeps/{id}/escape``."""

    points: list[EscapePoint]


class TheoryRange(Record):
    """Where a theory curve holds: ``t_min ≤ t ≤ t_max`` (None: open) and why."""

    t_min: float | None = None
    t_max: float | None = None
    reason: str = ""


class TheoryPoint(Record):
    """Theory curves of one point at its output times (null outside their validity)."""

    params: dict[str, Any]
    t: Floats
    curves: dict[str, Floats] = Field(
        description="κ_A, κ_H, PHM, scalings … (see docs); null outside the curve's validity")
    validity: dict[str, TheoryRange] = Field(
        default_factory=dict, description="range of validity and its reason, per curve")


class TheoryResults(ResultsPage):
    """``GET /v1/sweeps/{id}/theory``."""

    points: list[TheoryPoint]


class DensityPoint(Record):
    """n(x, t) of a point source in one realisation (``[density]``; Fig. 2)."""

    params: dict[str, Any]
    t: Floats
    x0: float = Field(description="source position in the realisation's coordinates")
    edges: Floats = Field(description="bin edges, as offsets x − x0")
    density: list[Floats] = Field(description="mean n(x, t) per bin, one row per time")
    mass: Floats = Field(description="total mass at each time (whole lattice; 1)")
    msd: Floats = Field(description="⟨(x − x0)²⟩ at each time (whole lattice)")
    method: Literal["lattice", "histogram"]
    kappa_A: float | None
    kappa_H: float | None
    patch_edges: Floats = Field(description="interfaces inside the window, as offsets x − x0")
    patch_kappa: Floats = Field(description="κ of the patches between those interfaces "
                                            "(one more than patch_edges)")
    n_particles: int | None = Field(default=None, description="particles of a Monte-Carlo "
                                    "histogram (method = histogram); None for the lattice")


class DensityResults(ResultsPage):
    """``GET /v1/sweeps/{id}/density``."""

    points: list[DensityPoint]


class SweepResults(BaseModel):
    """Everything the result routes serve, computed once when a sweep is finalised.

    One entry per point, in point order; ``kappa2d`` is empty for a 1D sweep. A sweep with
    ``escape.stop`` (``escape_stop``) has escape records only: ``kappa``, ``kappa2d`` and
    ``theory`` are empty (κ̄ of particles stopped at escape is not an unbiased quantity).
    """

    model_config = ConfigDict(extra="forbid")

    kappa: list[KappaPoint]
    kappa2d: list[Kappa2DPoint]
    escape: list[EscapePoint]
    theory: list[TheoryPoint]
    dimensions: Literal[1, 2] = 1
    density: list[DensityPoint] = []
    escape_stop: bool = False


def _same(value: Any, wanted: str) -> bool:
    """Whether a parameter value matches a query string (numbers compared numerically)."""
    try:
        target = json.loads(wanted)
    except json.JSONDecodeError:
        target = wanted
    if isinstance(value, (int, float)) and isinstance(target, (int, float)):
        return math.isclose(float(value), float(target), rel_tol=1e-9, abs_tol=0.0)
    if isinstance(value, str):
        return value == wanted or value == target
    return bool(value == target)


def filter_points(
    params_list: Sequence[Mapping[str, Any]], filters: Mapping[str, str]
) -> list[int]:
    """Indices of the points whose params match every filter ``{axis: value}``.

    Values are compared numerically when both are numbers (``?energy=10`` matches 10.0).

    Raises
    ------
    UnknownAxisError
        If a filter names no sweep axis (the message lists this sweep's axes), or if no point
        matches (the message lists the values each axis has).
    """
    if not filters:
        return list(range(len(params_list)))
    axes: dict[str, list[Any]] = {}
    for p in params_list:
        for k, v in p.items():
            seen = axes.setdefault(k, [])
            if v not in seen:
                seen.append(v)
    unknown = [k for k in filters if k not in axes]
    if unknown:
        names = ", ".join(axes) or "(this sweep has no axes)"
        example = next(iter(axes.items()), None)
        hint = "" if example is None else f" (e.g. ?{example[0]}={_text(example[1][0])})"
        raise UnknownAxisError(
            f"unknown filter {', '.join(unknown)}: filter by a sweep axis, one of {names}{hint}",
            [{"loc": k, "msg": f"not a sweep axis; use one of {names}"} for k in unknown],
        )
    kept = [i for i, p in enumerate(params_list)
            if all(_same(p[k], v) for k, v in filters.items())]
    if params_list and not kept:
        errors = [{"loc": k, "msg": f"{v!r} matches no point; this sweep has {k} = "
                                    + ", ".join(_text(x) for x in axes[k])}
                  for k, v in filters.items()
                  if not any(_same(x, v) for x in axes[k])]
        if not errors:  # each value exists, but not together
            errors = [{"loc": ", ".join(filters),
                       "msg": "no point has these values together; the points are "
                              + "; ".join(", ".join(f"{k}={_text(p[k])}" for k in filters)
                                          for p in params_list)}]
        raise UnknownAxisError(
            "no point matches the filter: " + "; ".join(e["msg"] for e in errors), errors)
    return kept


def _text(value: Any) -> str:
    """An axis value as a query would write it."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)
