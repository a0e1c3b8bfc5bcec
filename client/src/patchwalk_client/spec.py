"""The sweep spec: what to simulate, validated before anything runs.

A spec describes one medium (two random phases with patch-length pdfs, or an explicit
periodic list of patches), the particles, the output times, the kernel and its options, and
``[sweep]`` axes over any of those fields. Units are whatever the user picks for length and
time; κ is length²/time. See ``docs/spec.md`` for every field.

Every model forbids unknown keys. Invalid input raises :class:`~patchwalk_client.errors.SpecError`
whose ``.errors`` name each field by its dotted path and say how to fix it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from patchwalk_client.errors import SpecError, field_errors_from_pydantic

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

#: Keys whose sweeping is refused, with the reason.
UNSWEEPABLE = {
    "particles": "the store layout fixes the number of tasks and particles for the whole sweep",
    "times": "the store layout fixes the output times for the whole sweep",
    "sweep": "a sweep cannot sweep its own axes",
    "name": "a sweep has one name",
}


def _fail(errors: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise the field errors found by a model validator (relative locations)."""
    if errors:
        raise PydanticCustomError(
            "spec_fields",
            "{message}",
            {"message": "; ".join(f"{'.'.join(map(str, loc))}: {m}" for loc, m in errors),
             "fields": errors},
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=True)


# ---------------------------------------------------------------------------- patch pdfs


class PowerLawPdf(_Model):
    """Power-law patch lengths P(l) ∝ l^-α on [l_min, l_max] (eq. C5)."""

    pdf: Literal["power_law"]
    alpha: FiniteFloat
    l_min: PosFloat
    l_max: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _check(self) -> PowerLawPdf:
        errs: list[tuple[tuple[str | int, ...], str]] = []
        if math.isinf(self.l_max):
            if self.alpha <= 1:
                errs.append((("l_max",), f"alpha = {self.alpha} <= 1 is not normalisable "
                             "without a finite l_max: set a finite l_max > l_min"))
            else:
                errs.append((("l_max",), "must be finite (the medium needs a longest patch): "
                             "set a finite l_max > l_min"))
        elif self.l_min >= self.l_max:
            errs.append((("l_max",), f"must be > l_min (got l_min = {self.l_min}, "
                         f"l_max = {self.l_max}): swap them or widen the range"))
        _fail(errs)
        return self

    def shortest(self) -> float:
        """Shortest possible patch length."""
        return self.l_min

    def longest(self) -> float:
        """Longest possible patch length."""
        return self.l_max

    def mean_length(self) -> float:
        """Mean patch length ⟨l⟩ of the truncated power law."""
        a, lo, hi = self.alpha, self.l_min, self.l_max
        if abs(a - 1.0) < 1e-12:
            return (hi - lo) / math.log(hi / lo)
        if abs(a - 2.0) < 1e-12:
            return math.log(hi / lo) / (1.0 / lo - 1.0 / hi)
        num = hi ** (2.0 - a) - lo ** (2.0 - a)
        den = lo ** (1.0 - a) - hi ** (1.0 - a)
        return float((a - 1.0) / (2.0 - a) * num / den)


class NarrowPdf(_Model):
    """Single-scale patches: uniform on [mean − width/2, mean + width/2], 0 < width < 2·mean."""

    pdf: Literal["narrow"]
    mean: PosFloat
    width: PosFloat

    @model_validator(mode="after")
    def _check(self) -> NarrowPdf:
        if self.width >= 2 * self.mean:
            _fail([(("width",), f"must be < 2*mean = {2 * self.mean} so that every patch has "
                    f"positive length (got {self.width}): reduce width or raise mean")])
        return self

    def shortest(self) -> float:
        """Shortest possible patch length."""
        return self.mean - self.width / 2

    def longest(self) -> float:
        """Longest possible patch length."""
        return self.mean + self.width / 2

    def mean_length(self) -> float:
        """Mean patch length."""
        return self.mean


class ExponentialPdf(_Model):
    """Exponential patch lengths: l_min + Exp(mean − l_min)."""

    pdf: Literal["exponential"]
    mean: PosFloat
    l_min: NonNegFloat = 0.0

    @model_validator(mode="after")
    def _check(self) -> ExponentialPdf:
        if self.l_min >= self.mean:
            _fail([(("l_min",), f"must be < mean = {self.mean} (got {self.l_min}): "
                    "lower l_min or raise mean")])
        return self

    def shortest(self) -> float:
        """Shortest patch used for step-size estimates.

        ``l_min`` when positive; with ``l_min = 0`` patches can be arbitrarily short and the
        1 % quantile ``-ln(0.99)·mean`` stands in.
        """
        return self.l_min if self.l_min > 0 else -math.log(0.99) * self.mean

    def longest(self) -> float:
        """A practical longest patch: the 1 − 10⁻⁶ quantile (the pdf itself is unbounded)."""
        return self.l_min + (self.mean - self.l_min) * math.log(1e6)

    def mean_length(self) -> float:
        """Mean patch length."""
        return self.mean


class SamePdf(_Model):
    """``medium.low`` only: the low phase draws its lengths from ``medium.high.patches``."""

    pdf: Literal["same"]


PatchPdf = Annotated[PowerLawPdf | NarrowPdf | ExponentialPdf | SamePdf,
                     Field(discriminator="pdf")]
RealPdf = PowerLawPdf | NarrowPdf | ExponentialPdf


class Phase(_Model):
    """One phase of a two-phase medium: κ (at E = E0), its energy index β and patch pdf."""

    kappa: PosFloat
    beta: FiniteFloat = 0.0
    patches: PatchPdf

    def kappa_at(self, energy: float) -> float:
        """κ·(E/E0)^β at ``energy`` = E/E0 (the one definition of the energy scaling)."""
        return float(self.kappa * energy**self.beta)


class MediumSpec(_Model):
    """The medium: two random phases (``high``/``low``) or an explicit periodic ``patches`` list."""

    length: PosFloat | None = None
    high: Phase | None = None
    low: Phase | None = None
    patches: list[tuple[PosFloat, PosFloat]] | None = None
    kappa_perp: NonNegFloat | None = None
    beta_perp: FiniteFloat = 0.0
    l_perp: PosFloat | None = None
    strips: Annotated[int, Field(ge=1)] | None = None
    start_phase: Literal["high", "low", "random"] = "random"

    @model_validator(mode="after")
    def _check(self) -> MediumSpec:
        errs: list[tuple[tuple[str | int, ...], str]] = []
        random = self.high is not None or self.low is not None
        if self.patches is not None and random:
            errs.append((("patches",), "give either medium.patches (an explicit periodic "
                         "medium) or medium.high and medium.low (a random medium), not both"))
        elif self.patches is not None:
            if not self.patches:
                errs.append((("patches",), "is empty: give at least one [length, kappa] pair"))
            if self.length is not None:
                errs.append((("length",), "is only for random media: an explicit medium's "
                             "period is the sum of its patch lengths; remove medium.length"))
        elif not random:
            errs.append(((), "needs a medium: give medium.high and medium.low (random "
                         "two-phase) or medium.patches = [[length, kappa], ...] (explicit)"))
        else:
            for name, other in (("high", "low"), ("low", "high")):
                if getattr(self, name) is None:
                    errs.append(((name,), f"is required with medium.{other}: add [medium.{name}] "
                                 "with kappa and patches (low may use patches = {pdf = 'same'})"))
            if self.high is not None and isinstance(self.high.patches, SamePdf):
                errs.append((("high", "patches"), "pdf = 'same' is only allowed for medium.low "
                             "(it copies medium.high.patches): give high a power_law, narrow "
                             "or exponential pdf"))
            longest = self.longest_patch()
            if self.length is None:
                errs.append((("length",), "is required for a random medium: set the period of "
                             f"one realisation, at least 50 x the longest patch ({longest:g})"))
            elif longest is not None and self.length <= longest:
                errs.append((("length",), f"must be > the longest patch length {longest:g} "
                             f"(got {self.length:g}); at least 50 x that ({50 * longest:g}) is "
                             "recommended so one realisation samples the pdf"))
        _fail(errs)
        return self

    def phase_pdf(self, phase: Literal["high", "low"]) -> RealPdf | None:
        """The patch pdf of a phase, with ``same`` resolved to the high phase's pdf."""
        ph = self.high if phase == "high" else self.low
        if ph is None:
            return None
        pdf = ph.patches
        if isinstance(pdf, SamePdf):
            pdf = self.high.patches if self.high is not None else pdf
        return None if isinstance(pdf, SamePdf) else pdf

    def period(self) -> float:
        """x period of one realisation (explicit media: the sum of the patch lengths)."""
        if self.patches:
            return float(sum(length for length, _ in self.patches))
        return float(self.length or 0.0)

    def longest_patch(self) -> float | None:
        """Longest possible patch over both phases (explicit: the longest listed)."""
        if self.patches:
            return max(p[0] for p in self.patches)
        vals = [p.longest() for p in (self.phase_pdf("high"), self.phase_pdf("low")) if p]
        return max(vals) if vals else None

    def shortest_patch(self) -> float | None:
        """Shortest possible patch over both phases (explicit: the shortest listed)."""
        if self.patches:
            return min(p[0] for p in self.patches)
        vals = [p.shortest() for p in (self.phase_pdf("high"), self.phase_pdf("low")) if p]
        return min(vals) if vals else None


class ParticlesSpec(_Model):
    """How many particles per point, and how many per task (one task = one medium realisation)."""

    count: Annotated[int, Field(gt=0)]
    per_task: Annotated[int, Field(gt=0)] = 10_000


class TimesSpec(_Model):
    """Output times: ``count`` log-spaced in [min, max], or an explicit list ``values``.

    With ``values``, ``min``/``max``/``count`` may be left out: they are filled from the list.
    """

    min: PosFloat
    max: PosFloat
    count: Annotated[int, Field(ge=1)] = 40
    values: list[PosFloat] | None = None

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
        errs: list[tuple[tuple[str | int, ...], str]] = []
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
        _fail(errs)
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


class EulerOptions(_Model):
    """The paper's Itô scheme (eqs D1–D3) on a smoothed κ."""

    smoothing: Literal["kappa", "inverse_kappa"] = "kappa"
    width: PosFloat | None = None
    courant: PosFloat = 1e-3
    drift: bool = True


class PitchOptions(_Model):
    """Pitch-angle random walk (eqs D4, D5): speed ``v`` and dt = courant/σ_max."""

    v: PosFloat = 1.0
    courant: PosFloat = 0.05


class ExactOptions(_Model):
    """Exact skew-Brownian kernel: a step may not reach the next-but-one interface within
    ``safety`` standard deviations."""

    safety: PosFloat = 8.0


class ReferenceOptions(_Model):
    """Deterministic finite-volume reference lattice."""

    cells_per_l_min: Annotated[int, Field(ge=1)] = 64
    method: Literal["auto", "eigen", "contour"] = "auto"


class EscapeSpec(_Model):
    """First-passage distances L_esc: record the first time |Δx| ≥ L."""

    distances: list[PosFloat] = []

    @model_validator(mode="after")
    def _check(self) -> EscapeSpec:
        if len(set(self.distances)) != len(self.distances):
            _fail([(("distances",), "has repeated distances: list each once")])
        return self


class SweepAxes(_Model):
    """``[sweep]``: dotted spec paths with lists of values (cartesian product), and
    ``[[sweep.zip]]`` groups of paths that vary together.

    Accepts the flat TOML shape ``{"energy": [1, 10], "zip": [{...}]}``; serialises to it.
    """

    __loc_transparent__: ClassVar[tuple[str, ...]] = ("axes",)

    axes: dict[str, list[Any]] = {}
    zip: list[dict[str, list[Any]]] = []

    @model_validator(mode="before")
    @classmethod
    def _from_flat(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data.get("axes"), Mapping):
            flat = dict(data)
            zipped = flat.pop("zip", [])
            return {"axes": flat, "zip": zipped}
        return data

    @model_serializer(mode="plain")
    def _to_flat(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.axes)
        if self.zip:
            out["zip"] = [dict(g) for g in self.zip]
        return out

    def __bool__(self) -> bool:
        return bool(self.axes or self.zip)

    def paths(self) -> list[str]:
        """Every swept path: plain axes first, then zip groups, in the order written."""
        return list(self.axes) + [p for g in self.zip for p in g]


class SweepSpec(_Model):
    """A parameter sweep: one spec plus ``[sweep]`` axes. See ``docs/spec.md``."""

    name: str = "sweep"
    seed: Annotated[int, Field(ge=0)] = 0
    kernel: Literal["exact", "euler", "pitch", "reference"] = "exact"
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
    sweep: SweepAxes = SweepAxes()

    @model_validator(mode="before")
    @classmethod
    def _fill_swept(cls, data: Any) -> Any:
        """A swept field left out of the base spec takes its first sweep value."""
        if not isinstance(data, Mapping) or not isinstance(data.get("sweep"), Mapping):
            return data
        from patchwalk_client.sweep import sweep_path_ok

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
                if not sweep_path_ok(str(path)):
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
        errs: list[tuple[tuple[str | int, ...], str]] = []
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
        from patchwalk_client.sweep import check_sweep_axes, coerce_sweep_values

        sweep_errs = check_sweep_axes(self.sweep)
        errs.extend(sweep_errs)
        _fail(errs)
        if self.sweep:
            coerce_sweep_values(self.sweep)
        return self

    def output_times(self) -> list[float]:
        """The output times, increasing (see :meth:`TimesSpec.output_times`)."""
        return self.times.output_times()

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

    def to_toml(self) -> str:
        """The spec as TOML text (``load_spec`` reads it back to an equal spec)."""
        data = self.model_dump(mode="json", exclude_none=True)
        if not data.get("sweep"):
            data.pop("sweep", None)
        return _dump_toml(data)


# ---------------------------------------------------------------------------- TOML output


def _toml_key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "_-" for c in key)
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _dump_toml(data: Mapping[str, Any]) -> str:
    """TOML text of a JSON-like mapping: scalars first, then sub-tables and table arrays."""
    lines: list[str] = []

    def table(path: str, d: Mapping[str, Any], header: str | None) -> None:
        subs = {k: v for k, v in d.items() if isinstance(v, Mapping)}
        arrays = {k: v for k, v in d.items() if isinstance(v, list) and v
                  and all(isinstance(x, Mapping) for x in v)}
        scalars = {k: v for k, v in d.items() if k not in subs and k not in arrays}
        if header is not None and (scalars or not (subs or arrays)):
            lines.extend(["", header])
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items())
        for k, v in subs.items():
            sub = f"{path}.{_toml_key(k)}" if path else _toml_key(k)
            table(sub, v, f"[{sub}]")
        for k, items in arrays.items():
            sub = f"{path}.{_toml_key(k)}" if path else _toml_key(k)
            for item in items:
                lines.extend(["", f"[[{sub}]]"])
                lines.extend(f"{_toml_key(a)} = {_toml_value(b)}" for a, b in item.items())

    table("", data, None)
    return "\n".join(lines).lstrip("\n") + "\n"


# ---------------------------------------------------------------------------- loading

_PARSERS = ("json", "toml", "yaml")


def _parse(text: str, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(text)
    if fmt == "toml":
        return tomllib.loads(text)
    import yaml

    return yaml.safe_load(text)


def _parse_text(text: str, formats: tuple[str, ...], origin: str) -> dict[str, Any]:
    problems = []
    for fmt in formats:
        try:
            data = _parse(text, fmt)
        except Exception as exc:  # noqa: BLE001 - each parser raises its own type
            problems.append(f"{fmt.upper()}: {exc}")
            continue
        if isinstance(data, dict):
            return data
        problems.append(f"{fmt.upper()}: parsed to {type(data).__name__}, not a table/mapping")
    raise SpecError.single("", f"could not read {origin} as " + " or ".join(
        f.upper() for f in formats) + " — fix the syntax: " + " | ".join(problems))


def _read(source: str | Path) -> dict[str, Any]:
    path = Path(source)
    suffix = path.suffix.lower()
    by_suffix = {".toml": ("toml",), ".json": ("json",), ".yaml": ("yaml",), ".yml": ("yaml",)}
    if not path.is_file():
        raise SpecError.single("", f"spec file {str(path)!r} not found: check the path")
    text = path.read_text(encoding="utf-8")
    return _parse_text(text, by_suffix.get(suffix, _PARSERS), f"file {str(path)!r}")


def validate_spec(data: Mapping[str, Any]) -> SweepSpec:
    """Validate a mapping into a :class:`SweepSpec`, raising :class:`SpecError`."""
    try:
        return SweepSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(field_errors_from_pydantic(exc, SweepSpec)) from None


#: Parsers to try for each media type of spec text (``None``/``text/plain``: all three).
_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "application/json": ("json",),
    "application/toml": ("toml",),
    "text/toml": ("toml",),
    "application/yaml": ("yaml",),
    "application/x-yaml": ("yaml",),
    "text/yaml": ("yaml",),
    "text/x-yaml": ("yaml",),
}


def _formats(media_type: str | None) -> tuple[str, ...]:
    ctype = (media_type or "").split(";")[0].strip().lower()
    if ctype in _MEDIA_TYPES:
        return _MEDIA_TYPES[ctype]
    if ctype.endswith("+json"):
        return ("json",)
    return _PARSERS


def _checked(spec: SweepSpec) -> SweepSpec:
    """``spec`` after validating every sweep point (raises :class:`SpecError`)."""
    if spec.sweep:
        from patchwalk_client.sweep import expand_points

        expand_points(spec)
    return spec


def parse_spec(
    source: str | Mapping[str, Any] | SweepSpec, media_type: str | None = None
) -> SweepSpec:
    """Validate spec text or a mapping; never touches the filesystem.

    Parameters
    ----------
    source : str, mapping or SweepSpec
        Spec text, a mapping, or a ``SweepSpec``. A string is always spec text, even one that
        looks like a path: this is what a server calls on a request body.
    media_type : str, optional
        How to parse text (``application/json``, ``application/toml``, ``application/yaml``);
        ``None`` or another type tries JSON, then TOML, then YAML.

    Returns
    -------
    SweepSpec
        The validated spec; every sweep point has been validated too.

    Raises
    ------
    SpecError
        With one ``{"loc", "msg"}`` entry per problem.
    """
    if isinstance(source, SweepSpec):
        return _checked(validate_spec(source.model_dump(mode="python")))
    if isinstance(source, Mapping):
        return _checked(validate_spec(source))
    if isinstance(source, str):
        return _checked(validate_spec(_parse_text(source, _formats(media_type), "the spec text")))
    raise SpecError.single("", f"cannot parse a spec from {type(source).__name__}: pass "
                           "TOML/JSON/YAML text, a dict or a SweepSpec")


_SUFFIXES = (".toml", ".json", ".yaml", ".yml")


def load_spec(source: str | Path | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """Load and validate a sweep spec: the client and CLI convenience that reads files.

    Parameters
    ----------
    source : str, Path, mapping or SweepSpec
        A file path (``.toml``, ``.json``, ``.yaml``/``.yml``; another suffix tries all three;
        a one-line string that names an existing file or ends in one of those suffixes is a
        path), spec text (tried as JSON, then TOML, then YAML), a mapping, or a ``SweepSpec``.
        Servers call :func:`parse_spec` instead, which never opens a file.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SpecError
        With one ``{"loc", "msg"}`` entry per problem.
    """
    if isinstance(source, Path) or (isinstance(source, str) and _names_a_file(source)):
        return _checked(validate_spec(_read(source)))
    return parse_spec(source)


def _names_a_file(source: str) -> bool:
    """Whether a string passed to :func:`load_spec` is a path rather than spec text."""
    if "\n" in source or source.lstrip().startswith(("{", "[")) or len(source) > 1024:
        return False
    if Path(source).suffix.lower() in _SUFFIXES:
        return True
    try:
        return Path(source).is_file()
    except OSError:
        return False


def canonical_json(spec: SweepSpec) -> str:
    """Canonical JSON of a spec: sorted keys, compact; sweep axes as ordered [path, values]
    pairs (their order sets the point order, so it is part of the identity)."""
    data = spec.model_dump(mode="json")
    data["sweep"] = {
        "axes": [[p, v] for p, v in spec.sweep.axes.items()],
        "zip": [[[p, v] for p, v in g.items()] for g in spec.sweep.zip],
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_hash(spec: SweepSpec) -> str:
    """sha256 (hex) of :func:`canonical_json` — equal specs, equal hashes."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()
