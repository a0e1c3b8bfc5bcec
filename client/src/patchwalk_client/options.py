"""The kernels a spec can name and their option tables — the one table of kernel names.

:data:`KERNEL_OPTIONS` maps each kernel name (the spec's ``kernel``) to the model of the
spec's table of the same name. The worker's kernel registry
(``patchwalk_worker.kernels.registry.KERNELS``) declares one kernel per entry, and tests check
that the two, :data:`KernelName` and the fields of ``SweepSpec`` agree.

Adding a kernel touches this table once: its options model (a :class:`KernelOptions`, whose
:meth:`~KernelOptions.spec_errors` holds the spec rules only that kernel has) and its entry in
:data:`KERNEL_OPTIONS`. ``SweepSpec`` gets the ``[<kernel>]`` table from it and
:data:`KernelName` is derived from it; the worker's registry finds the kernel module itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from patchwalk_client.schema import PosFloat, RelError, SpecModel

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.model import SweepSpec


class KernelOptions(SpecModel):
    """Base of every kernel's options table."""

    def spec_errors(self, spec: SweepSpec) -> list[RelError]:
        """Field errors (path relative to the spec, message with the fix) of a spec that
        names this kernel; none by default."""
        return []


class EulerOptions(KernelOptions):
    """The paper's Itô scheme (eqs D1–D3) on a smoothed κ."""

    smoothing: Literal["kappa", "inverse_kappa"] = "kappa"
    width: PosFloat | None = None
    courant: PosFloat = 1e-3
    drift: bool = True


class PitchOptions(KernelOptions):
    """Pitch-angle random walk (eqs D4, D5): speed ``v`` and dt = courant/σ_max."""

    v: PosFloat = 1.0
    courant: PosFloat = 0.05


class ExactOptions(KernelOptions):
    """Exact skew-Brownian kernel: a step may not reach the next-but-one interface within
    ``safety`` standard deviations."""

    safety: PosFloat = 8.0


class ReferenceOptions(KernelOptions):
    """Deterministic finite-volume reference lattice."""

    cells_per_l_min: Annotated[int, Field(ge=1)] = 64
    method: Literal["auto", "eigen", "contour"] = "auto"


class StreamingOptions(KernelOptions):
    """Appendix E: one phase streams at ``v_str`` with scattering rate ``sigma``, the other
    diffuses (kernel ``streaming``, 1D, two-phase or homogeneous media)."""

    v_str: PosFloat = 1.0
    sigma: PosFloat | None = None
    streaming_phase: Literal["high", "low"] = "high"
    safety: Annotated[float, Field(ge=2.0, allow_inf_nan=False)] = 8.0

    def spec_errors(self, spec: SweepSpec) -> list[RelError]:
        """The streaming kernel is 1D and needs at most two distinct κ."""
        errs: list[RelError] = []
        if spec.dimensions != 1:
            errs.append((("dimensions",), "the streaming kernel is 1D: set dimensions = 1"))
        patches = spec.medium.patches
        if patches and len({float(k) for _, k in patches}) > 2:
            errs.append((("medium", "patches"), "the streaming kernel needs a two-phase medium "
                         "(at most two distinct kappa; one kappa streams everywhere)"))
        return errs


#: Each kernel's options model, by kernel name: the spec's ``[<kernel>]`` table. The one
#: place a new kernel's name and options are added.
KERNEL_OPTIONS: dict[str, type[KernelOptions]] = {
    "exact": ExactOptions,
    "euler": EulerOptions,
    "pitch": PitchOptions,
    "reference": ReferenceOptions,
    "streaming": StreamingOptions,
}

if TYPE_CHECKING:  # pragma: no cover
    KernelName = str
else:
    #: Kernel names a spec may give (``SweepSpec.kernel``): the keys of KERNEL_OPTIONS.
    KernelName = Literal[tuple(KERNEL_OPTIONS)]
