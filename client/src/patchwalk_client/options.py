"""The kernels a spec can name and their option tables — the one table of kernel names.

:data:`KERNEL_OPTIONS` maps each kernel name (the spec's ``kernel``) to the model of the
spec's table of the same name. The worker's kernel registry
(``patchwalk_worker.kernels.registry.KERNELS``) declares one kernel per entry, and tests check
that the two, :data:`KernelName` and the fields of ``SweepSpec`` agree.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from patchwalk_client.schema import PosFloat, SpecModel


class EulerOptions(SpecModel):
    """The paper's Itô scheme (eqs D1–D3) on a smoothed κ."""

    smoothing: Literal["kappa", "inverse_kappa"] = "kappa"
    width: PosFloat | None = None
    courant: PosFloat = 1e-3
    drift: bool = True


class PitchOptions(SpecModel):
    """Pitch-angle random walk (eqs D4, D5): speed ``v`` and dt = courant/σ_max."""

    v: PosFloat = 1.0
    courant: PosFloat = 0.05


class ExactOptions(SpecModel):
    """Exact skew-Brownian kernel: a step may not reach the next-but-one interface within
    ``safety`` standard deviations."""

    safety: PosFloat = 8.0


class ReferenceOptions(SpecModel):
    """Deterministic finite-volume reference lattice."""

    cells_per_l_min: Annotated[int, Field(ge=1)] = 64
    method: Literal["auto", "eigen", "contour"] = "auto"


#: Kernel names a spec may give (``SweepSpec.kernel``); keep in step with KERNEL_OPTIONS.
KernelName = Literal["exact", "euler", "pitch", "reference"]

#: Each kernel's options model, by kernel name: the spec's ``[<kernel>]`` table.
KERNEL_OPTIONS: dict[str, type[SpecModel]] = {
    "exact": ExactOptions,
    "euler": EulerOptions,
    "pitch": PitchOptions,
    "reference": ReferenceOptions,
}
