"""The medium of a spec: patch-length pdfs, the two phases, or an explicit list of patches.

A random medium alternates a high and a low phase, each with its κ (scaled with energy,
κ·(E/E0)^β — :meth:`Phase.kappa_at` is the one definition) and its patch-length pdf: power
law (eq. C5), narrow, exponential, or ``same`` (the high phase's pdf, resolved by
:meth:`MediumSpec.phase_pdf`). An explicit medium lists ``[length, kappa]`` patches.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from patchwalk_client.schema import (
    FiniteFloat,
    NonNegFloat,
    PosFloat,
    RelError,
    SpecModel,
    fail_fields,
)


class PowerLawPdf(SpecModel):
    """Power-law patch lengths P(l) ∝ l^-α on [l_min, l_max] (eq. C5)."""

    pdf: Literal["power_law"]
    alpha: FiniteFloat
    l_min: PosFloat
    l_max: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _check(self) -> PowerLawPdf:
        errs: list[RelError] = []
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
        fail_fields(errs)
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


class NarrowPdf(SpecModel):
    """Single-scale patches: uniform on [mean − width/2, mean + width/2], 0 < width < 2·mean."""

    pdf: Literal["narrow"]
    mean: PosFloat
    width: PosFloat

    @model_validator(mode="after")
    def _check(self) -> NarrowPdf:
        if self.width >= 2 * self.mean:
            fail_fields([(("width",), f"must be < 2*mean = {2 * self.mean} so that every patch has "
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


class ExponentialPdf(SpecModel):
    """Exponential patch lengths: l_min + Exp(mean − l_min)."""

    pdf: Literal["exponential"]
    mean: PosFloat
    l_min: NonNegFloat = 0.0

    @model_validator(mode="after")
    def _check(self) -> ExponentialPdf:
        if self.l_min >= self.mean:
            fail_fields([(("l_min",), f"must be < mean = {self.mean} (got {self.l_min}): "
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


class SamePdf(SpecModel):
    """``medium.low`` only: the low phase draws its lengths from ``medium.high.patches``."""

    pdf: Literal["same"]


PatchPdf = Annotated[PowerLawPdf | NarrowPdf | ExponentialPdf | SamePdf,
                     Field(discriminator="pdf")]
RealPdf = PowerLawPdf | NarrowPdf | ExponentialPdf


class Phase(SpecModel):
    """One phase of a two-phase medium: κ (at E = E0), its energy index β and patch pdf."""

    kappa: PosFloat
    beta: FiniteFloat = 0.0
    patches: PatchPdf

    def kappa_at(self, energy: float) -> float:
        """κ·(E/E0)^β at ``energy`` = E/E0 (the one definition of the energy scaling)."""
        return float(self.kappa * energy**self.beta)


class MediumSpec(SpecModel):
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
        errs: list[RelError] = []
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
        fail_fields(errs)
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


