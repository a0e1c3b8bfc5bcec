"""Work and memory estimates for one sweep point, and the feasibility checks built on them.

All estimates use the energy-scaled coefficients κ·(E/E0)^β of the point and the shortest
possible patch l_min of its medium (power law: ``l_min``; narrow: ``mean − width/2``;
exponential: ``l_min``, or its 1 % quantile when ``l_min = 0``; explicit: the shortest patch).
They are meant for budgets, ETAs and refusing hopeless points, not for benchmarking.
"""

from __future__ import annotations

import math
import os
from typing import Any

from patchwalk_client.spec import SweepSpec

#: Bytes per patch of a medium realisation (an edge and a κ, float64 each).
BYTES_PER_PATCH = 16
#: float64 arrays of lattice length the reference solver holds at once (sparse methods).
REFERENCE_ARRAYS = 16


def _kappa_range(spec: SweepSpec) -> tuple[float, float]:
    ks = spec.phase_kappas()
    return min(ks), max(ks)


def _l_min(spec: SweepSpec) -> float:
    short = spec.medium.shortest_patch()
    if short is None or short <= 0:  # pragma: no cover - a validated spec always has one
        raise ValueError("the medium has no patches: validate the spec with load_spec first")
    return short


def euler_dt(spec: SweepSpec) -> float:
    """Euler time step from eq. (D3): Δt = courant · l_min² / κ_max."""
    _, k_max = _kappa_range(spec)
    return spec.euler.courant * _l_min(spec) ** 2 / k_max


def pitch_sigma_max(spec: SweepSpec) -> float:
    """Largest scattering rate σ_max = v² / (2 κ_min) (κ = v²/(2σ), eqs D4–D5)."""
    k_min, _ = _kappa_range(spec)
    return spec.pitch.v**2 / (2.0 * k_min)


def pitch_dt(spec: SweepSpec) -> float:
    """Pitch-angle time step Δt = courant / σ_max (eq. D5 resolves one scattering time)."""
    return spec.pitch.courant / pitch_sigma_max(spec)


def pitch_mean_free_path(spec: SweepSpec) -> float:
    """Longest mean free path v/σ = 2κ_max/v; the paper keeps it below l_min (Appendix D)."""
    _, k_max = _kappa_range(spec)
    return 2.0 * k_max / spec.pitch.v


def exact_min_dt(spec: SweepSpec) -> float:
    """Smallest step of the exact kernel: Δt = (l_min/safety)² / (2 κ_max).

    A step of standard deviation √(2κΔt) may not reach the next-but-one interface (at least
    one whole patch, ≥ l_min, away) within ``safety`` deviations. In 2D with κ⊥ > 0 the
    strip height bounds it too: (l_⊥/safety)² / (2 κ⊥).
    """
    _, k_max = _kappa_range(spec)
    dt = (_l_min(spec) / spec.exact.safety) ** 2 / (2.0 * k_max)
    k_perp = spec.kappa_perp_scaled()
    if spec.dimensions == 2 and k_perp > 0 and spec.medium.l_perp:
        dt = min(dt, (spec.medium.l_perp / spec.exact.safety) ** 2 / (2.0 * k_perp))
    return dt


def reference_cells(spec: SweepSpec) -> int:
    """Cells of the reference lattice: period / l_min · cells_per_l_min."""
    return math.ceil(period(spec) / _l_min(spec) * spec.reference.cells_per_l_min)


def period(spec: SweepSpec) -> float:
    """x period of one realisation (explicit media: the sum of the patch lengths)."""
    m = spec.medium
    if m.patches:
        return float(sum(length for length, _ in m.patches))
    return float(m.length or 0.0)


def n_strips(spec: SweepSpec) -> int:
    """Strips of a 2D realisation: ``medium.strips``, or an estimate of the automatic choice.

    The estimate covers ±3 standard deviations of the perpendicular spread √(2κ⊥ t_max)
    plus one strip; 1 in 1D.
    """
    m = spec.medium
    if spec.dimensions == 1:
        return 1
    if m.strips is not None:
        return m.strips
    spread = math.sqrt(2.0 * spec.kappa_perp_scaled() * spec.times.max)
    return 1 + math.ceil(6.0 * spread / float(m.l_perp or 1.0))


def medium_bytes(spec: SweepSpec) -> float:
    """Approximate bytes of one realisation: 16 B per patch × (length/⟨l⟩) × strips.

    ⟨l⟩ is the mean patch length over the two alternating phases.
    """
    m = spec.medium
    if m.patches:
        return float(BYTES_PER_PATCH * len(m.patches) * n_strips(spec))
    pdfs = [m.phase_pdf("high"), m.phase_pdf("low")]
    mean = sum(p.mean_length() for p in pdfs if p is not None) / 2.0
    return BYTES_PER_PATCH * period(spec) / mean * n_strips(spec)


def estimate_steps(spec: SweepSpec) -> float:
    """Particle-steps one point needs (lattice cell-updates for the reference).

    Parameters
    ----------
    spec : SweepSpec
        A resolved point spec (no sweep axes).

    Returns
    -------
    float
        - ``euler``: count · t_max / Δt with Δt from eq. (D3) — what the kernel does.
        - ``pitch``: count · t_max / Δt with Δt = courant/σ_max — what the kernel does.
        - ``exact``: count · (n_times + t_max / Δt_min) with Δt_min from :func:`exact_min_dt`.
          An upper bound: it assumes every step is taken in the fastest phase next to the
          shortest patch. Steps in slow phases or far from interfaces are much longer, so
          the true count is lower: measured 2.7× (2D, narrow low phase), 5× (explicit
          periodic medium) and 24× (power law α = 1.5, contrast 10³) on the examples.
        - ``reference``: cells · n_times (one implicit/eigen update per output time).
    """
    t_max = spec.times.max
    count = spec.particles.count
    n_times = len(spec.output_times())
    if spec.kernel == "euler":
        return count * t_max / euler_dt(spec)
    if spec.kernel == "pitch":
        return count * t_max / pitch_dt(spec)
    if spec.kernel == "exact":
        return count * (n_times + t_max / exact_min_dt(spec))
    return float(reference_cells(spec) * n_times)


def physical_memory() -> int | None:
    """Physical memory in bytes (``None`` where ``os.sysconf`` cannot tell)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def check_feasible(
    spec: SweepSpec, *, max_steps: float = 1e12, max_bytes: float | None = None
) -> list[dict[str, Any]]:
    """Field errors for a resolved point spec that cannot run.

    Parameters
    ----------
    spec : SweepSpec
        A resolved point spec (energy scaling κ·(E/E0)^β is applied here).
    max_steps : float
        Largest acceptable :func:`estimate_steps`.
    max_bytes : float, optional
        Largest acceptable medium (or reference lattice); default half the physical memory.

    Returns
    -------
    list of dict
        ``{"loc": dotted field, "msg": what to change}``; empty when the point is feasible.
    """
    if max_bytes is None:
        mem = physical_memory()
        max_bytes = mem / 2 if mem else math.inf
    errors: list[dict[str, Any]] = []
    l_min = _l_min(spec)
    if spec.kernel == "pitch":
        mfp = pitch_mean_free_path(spec)
        if mfp >= l_min:
            _, k_max = _kappa_range(spec)
            errors.append({"loc": "pitch.v", "msg": (
                f"v = {spec.pitch.v:g} gives a mean free path 2*kappa_max/v = {mfp:g} >= the "
                f"shortest patch {l_min:g}; the pitch-angle walk must scatter within a patch: "
                f"raise pitch.v above {2 * k_max / l_min:g}")})
    steps = estimate_steps(spec)
    if steps > max_steps:
        fix = {
            "euler": ("times.max", "lower times.max or particles.count, or raise euler.courant "
                      "(the paper's D3 uses 1e-3)"),
            "pitch": ("times.max", "lower times.max or particles.count, or raise pitch.courant"),
            "exact": ("times.max", "lower times.max or particles.count, or lower exact.safety"),
            "reference": ("reference.cells_per_l_min", "lower reference.cells_per_l_min, "
                          "medium.length or times.count"),
        }[spec.kernel]
        errors.append({"loc": fix[0], "msg": (
            f"the {spec.kernel} kernel needs about {steps:.3g} "
            f"{'cell-updates' if spec.kernel == 'reference' else 'particle-steps'}, more than "
            f"the limit {max_steps:.3g}: {fix[1]}")})
    nbytes = medium_bytes(spec)
    if nbytes > max_bytes:
        errors.append({"loc": "medium.length", "msg": (
            f"one realisation needs about {nbytes:.3g} bytes, more than {max_bytes:.3g}: lower "
            "medium.length" + (" or medium.strips" if spec.dimensions == 2 else ""))})
    if spec.kernel == "reference":
        cells = reference_cells(spec)
        dense = spec.reference.method == "eigen"
        need = 8.0 * cells * cells if dense else 8.0 * REFERENCE_ARRAYS * cells
        if need > max_bytes:
            errors.append({"loc": "reference.cells_per_l_min", "msg": (
                f"the reference lattice has {cells} cells and needs about {need:.3g} bytes, "
                f"more than {max_bytes:.3g}: lower reference.cells_per_l_min or medium.length"
                + (", or use method = 'contour' (no dense matrix)" if dense else ""))})
    return errors
