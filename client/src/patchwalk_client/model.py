"""The sweep spec model: what to simulate, and the numbers derived from it in one place.

A :class:`SweepSpec` describes one medium (:mod:`patchwalk_client.medium`), the particles, the
output times, the kernel and its options (:mod:`patchwalk_client.options`), escape distances
and ``[sweep]`` axes (:mod:`patchwalk_client.axes`) over any of those fields. Units are
whatever the user picks for length and time; κ is length²/time. See ``docs/spec.md``.

The spec physics every part uses is defined here once: κ of each phase at the spec's energy
(:meth:`SweepSpec.phase_kappas`, :meth:`SweepSpec.kappa_high_low`), the energy-scaled κ⊥
(:meth:`SweepSpec.kappa_perp_scaled`) and the output times.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo

from patchwalk_client.axes import SweepAxes, check_sweep_axes, coerce_sweep_values, sweep_path_ok
from patchwalk_client.medium import MediumSpec
from patchwalk_client.options import (
    KERNEL_OPTIONS,
    EulerOptions,
    ExactOptions,
    KernelName,
    KernelOptions,
    PitchOptions,
    ReferenceOptions,
)
from patchwalk_client.schema import PosFloat, RelError, SpecModel, fail_fields


class ParticlesSpec(SpecModel):
    """How many particles per point, and how many per task (one task = one medium realisation)."""

    count: Annotated[int, Field(gt=0)]
    per_task: Annotated[int, Field(gt=0)] = 10_000
    #: Run to a tolerance: add tasks (new realisations, ``per_task`` particles each) after the
    #: first ``count`` particles until the standard error of κ̄(t) between realisations is
    #: below ``target_rel_err`` · |κ̄(t)| at every output time (or at ``target_times``), or
    #: ``max_count`` particles are reached (docs/engine.md, "Run to a tolerance").
    target_rel_err: Annotated[float, Field(gt=0, lt=1)] | None = None
    max_count: Annotated[int, Field(gt=0)] | None = None
    target_times: list[PosFloat] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParticlesSpec:
        errs: list[RelError] = []
        if self.target_rel_err is None:
            for key in ("max_count", "target_times"):
                if getattr(self, key) is not None:
                    errs.append(((key,), "is only used with particles.target_rel_err: set it "
                                 f"(e.g. 0.01) or remove particles.{key}"))
        elif self.max_count is None:
            errs.append((("max_count",), "is required with particles.target_rel_err: the most "
                         f"particles to spend, e.g. {10 * self.count}"))
        elif self.max_count < self.count:
            errs.append((("max_count",), f"must be >= particles.count = {self.count}"))
        fail_fields(errs)
        return self


#: The most output times a spec may ask for (each task stores five sums per time).
MAX_TIMES = 100_000


class TimesSpec(SpecModel):
    """Output times: ``count`` log-spaced in [min, max], or an explicit list ``values``.

    With ``values``, ``min``/``max``/``count`` may be left out: they are filled from the list.
    """

    min: PosFloat
    max: PosFloat
    count: Annotated[int, Field(ge=1, le=MAX_TIMES)] = 40
    values: Annotated[list[PosFloat], Field(max_length=MAX_TIMES)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_from_values(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("values"), list):
            return data
        vals = data["values"]
        try:
            nums = sorted(float(v) for v in vals)
        except (TypeError, ValueError):
            return data  # the field validation reports the bad entry
        if not nums:
            return data
        out = dict(data)
        out.setdefault("min", nums[0])
        out.setdefault("max", nums[-1])
        out.setdefault("count", len(nums))
        return out

    @model_validator(mode="after")
    def _check(self) -> TimesSpec:
        errs: list[RelError] = []
        if self.values is not None:
            vals = sorted(self.values)
            if not vals:
                errs.append((("values",), "is empty: list at least one positive time"))
            elif len(set(vals)) != len(vals):
                errs.append((("values",), "has repeated times: list each output time once"))
            else:
                for key, want in (("min", vals[0]), ("max", vals[-1]), ("count", len(vals))):
                    got = getattr(self, key)
                    if got != want:
                        errs.append(((key,), f"= {got} disagrees with times.values (which "
                                     f"implies {want}): remove times.{key} or fix it"))
                self.values = vals
        elif self.min >= self.max:
            errs.append((("max",), f"must be > times.min (got min = {self.min:g}, "
                         f"max = {self.max:g}): swap them or widen the range"))
        fail_fields(errs)
        return self

    def output_times(self) -> list[float]:
        """The output times, increasing (log-spaced from min to max unless values given)."""
        if self.values is not None:
            return list(self.values)
        lo, hi, n = self.min, self.max, self.count
        if n == 1:
            return [hi]
        r = math.log(hi / lo)
        out = [lo * math.exp(r * i / (n - 1)) for i in range(n)]
        out[0], out[-1] = lo, hi
        return out


class EscapeSpec(SpecModel):
    """First-passage distances L_esc: record the first time |Δx| ≥ L.

    ``stop = true`` ends each particle's walk once it has passed the largest distance, so a
    particle costs the steps until its escape instead of until ``times.max``; the escape
    statistics are then complete and bitwise those of the same spec without ``stop``, but κ̄(t),
    κ̄_2D and the theory curves are not served (the particles still walking at a time are a
    biased sample).
    """

    distances: list[PosFloat] = []
    stop: bool = Field(
        default=False,
        description="stop each particle once it has passed the largest escape distance "
                    "(cost = steps until escape, not until times.max); escape results only: "
                    "kappa, kappa2d and theory are not served for such a sweep")

    @model_validator(mode="after")
    def _check(self) -> EscapeSpec:
        if len(set(self.distances)) != len(self.distances):
            fail_fields([(("distances",), "has repeated distances: list each once")])
        if self.stop and not self.distances:
            fail_fields([(("stop",), "needs escape distances: set escape.distances, or "
                          "remove escape.stop")])
        return self


class DensitySpec(SpecModel):
    """``[density]``: the density n(x, t) of a point source (Fig. 2) at the output times.

    ``x0`` is the source in the coordinates of the point's first realisation (default: the
    middle of the period); the density is stored binned on ``bins`` equal bins over
    ``[x0 − half_width, x0 + half_width]`` (default half width: 4·√(2 κ_max t_max), at most
    half the period).
    """

    x0: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    half_width: PosFloat | None = None
    bins: Annotated[int, Field(ge=2, le=100_000)] = 200


class SweepSpec(SpecModel):
    """A parameter sweep: one spec plus ``[sweep]`` axes. See ``docs/spec.md``."""

    name: str = "sweep"
    seed: Annotated[int, Field(ge=0)] = 0
    kernel: KernelName = "exact"
    dimensions: Literal[1, 2] = 1
    energy: PosFloat = 1.0
    medium: MediumSpec
    particles: ParticlesSpec
    times: TimesSpec
    euler: EulerOptions = EulerOptions()
    pitch: PitchOptions = PitchOptions()
    exact: ExactOptions = ExactOptions()
    reference: ReferenceOptions = ReferenceOptions()
    escape: EscapeSpec = EscapeSpec()
    density: DensitySpec | None = None
    sweep: SweepAxes = SweepAxes()
    # the [<kernel>] table of every other kernel of KERNEL_OPTIONS is added below the class

    @model_validator(mode="before")
    @classmethod
    def _fill_swept(cls, data: Any) -> Any:
        """A swept field left out of the base spec takes its first sweep value."""
        if not isinstance(data, Mapping) or not isinstance(data.get("sweep"), Mapping):
            return data
        sweep = data["sweep"]
        groups: list[Any] = [sweep.get("axes", sweep)]
        zipped = sweep.get("zip", [])
        groups += list(zipped) if isinstance(zipped, list) else []
        out: dict[str, Any] | None = None
        for group in groups:
            if not isinstance(group, Mapping):
                continue
            for path, values in group.items():
                if path in ("zip", "axes") or not isinstance(values, list) or not values:
                    continue
                if not sweep_path_ok(str(path), cls):
                    continue
                parts = str(path).split(".")
                if out is None:
                    out = copy.deepcopy(dict(data))
                node: Any = out
                for key in parts[:-1]:
                    if not isinstance(node, dict) or not isinstance(node.get(key), dict):
                        break  # no such table: the sweep expansion reports it
                    node = node[key]
                else:
                    if isinstance(node, dict) and node.get(parts[-1]) is None:
                        node[parts[-1]] = copy.deepcopy(values[0])
        return data if out is None else out

    @model_validator(mode="after")
    def _check(self) -> SweepSpec:
        errs: list[RelError] = []
        m = self.medium
        if self.dimensions == 2:
            if m.kappa_perp is None:
                errs.append((("medium", "kappa_perp"), "is required when dimensions = 2: set the "
                             "perpendicular diffusion coefficient (0 is allowed)"))
            if m.l_perp is None:
                errs.append((("medium", "l_perp"), "is required when dimensions = 2: set the "
                             "strip height (> 0)"))
        else:
            for key in ("kappa_perp", "l_perp", "strips"):
                if getattr(m, key) is not None:
                    errs.append((("medium", key), "is only used when dimensions = 2: set "
                                 f"dimensions = 2 or remove medium.{key}"))
        shortest = m.shortest_patch()
        if self.euler.width is not None and shortest is not None and self.euler.width >= shortest:
            errs.append((("euler", "width"), f"must be < the shortest patch length {shortest:g} "
                         f"(got {self.euler.width:g}); the default is l_min/10"))
        errs.extend(self.kernel_options().spec_errors(self))
        if self.escape.stop:
            if self.kernel == "reference":
                errs.append((("escape", "stop"), "has no particles to stop with kernel = "
                             "'reference' (it computes no escape times): remove escape.stop "
                             "or use kernel = 'exact'"))
            if self.particles.target_rel_err is not None:
                errs.append((("escape", "stop"), "cannot be combined with "
                             "particles.target_rel_err (the target is on κ̄(t), which a "
                             "stopped sweep does not serve): remove one of them"))
        if self.density is not None:
            if self.kernel not in ("reference", "exact") or self.dimensions != 1:
                errs.append((("density",), "is computed on the 1D reference lattice, and "
                             "counted as Monte-Carlo histograms by the exact kernel: set "
                             "kernel = 'reference' or 'exact' and dimensions = 1, or remove "
                             "[density]"))
            period = m.period()
            x0 = self.density.x0
            if x0 is not None and period > 0 and x0 > period:
                errs.append((("density", "x0"), f"must lie in the period [0, {period:g}]"))
        errs.extend(check_sweep_axes(self.sweep, SweepSpec))
        if self.particles.target_times:
            out = self.times.output_times()
            for v in self.particles.target_times:
                if not any(math.isclose(v, t, rel_tol=1e-9) for t in out):
                    errs.append((("particles", "target_times"), f"{v:g} is not an output time: "
                                 "use values of times.values (or of the log-spaced times)"))
                    break
        fail_fields(errs)
        if self.sweep:
            coerce_sweep_values(self.sweep, SweepSpec)
        return self

    def output_times(self) -> list[float]:
        """The output times, increasing (see :meth:`TimesSpec.output_times`)."""
        return self.times.output_times()

    def kernel_options(self) -> KernelOptions:
        """The options table of the spec's kernel (``spec.<kernel>``)."""
        opts = getattr(self, self.kernel)
        if not isinstance(opts, KernelOptions):  # pragma: no cover - the table is a field
            raise TypeError(f"spec.{self.kernel} is not a kernel options table")
        return opts

    def phase_kappas(self) -> list[float]:
        """κ of every phase/patch at this spec's energy (κ·(E/E0)^β); explicit patches are
        not energy-scaled."""
        m = self.medium
        if m.patches:
            return [float(k) for _, k in m.patches]
        return [p.kappa_at(self.energy) for p in (m.high, m.low) if p is not None]

    def kappa_high_low(self) -> tuple[float, float]:
        """(κ_high, κ_low) of a two-phase medium at this spec's energy."""
        m = self.medium
        if m.high is None or m.low is None:
            raise ValueError("kappa_high_low needs a two-phase medium (medium.high and .low)")
        return m.high.kappa_at(self.energy), m.low.kappa_at(self.energy)

    def kappa_perp_scaled(self) -> float:
        """κ⊥·(E/E0)^β⊥ (0 in 1D)."""
        if self.dimensions == 1 or self.medium.kappa_perp is None:
            return 0.0
        return float(self.medium.kappa_perp * self.energy**self.medium.beta_perp)


def _add_kernel_tables() -> None:
    """One ``[<kernel>]`` field per entry of KERNEL_OPTIONS not declared above (a new kernel
    needs no edit here; the four declared ones keep their static types for mypy)."""
    added = False
    for name, model in KERNEL_OPTIONS.items():
        if name not in SweepSpec.model_fields:
            SweepSpec.model_fields[name] = FieldInfo(annotation=model, default=model())
            added = True
    if added:
        SweepSpec.model_rebuild(force=True)


_add_kernel_tables()
