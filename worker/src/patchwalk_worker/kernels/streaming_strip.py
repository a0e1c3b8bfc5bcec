"""The streaming kernel's view of a medium (Appendix E): patches re-cut by phase, and the
event-count estimate its cost model uses (calibration in docs/kernels.md)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..media import Medium

STREAMING_PHASES = ("high", "low")


class StreamingStrip(NamedTuple):
    """A medium re-cut for the streaming kernel: neighbouring patches differ in phase."""

    edges: np.ndarray
    kappa: np.ndarray
    is_str: np.ndarray
    origin: float
    length: float


def streaming_strip(medium: Medium, streaming_phase: str) -> StreamingStrip:
    """Merge equal-κ neighbours and rotate the origin onto an interface.

    A homogeneous medium is one streaming patch. A two-valued medium streams in the patches of
    the larger (``"high"``) or smaller (``"low"``) κ and diffuses with κ in the others. The
    origin shift is undone in recorded positions; Δx does not depend on it.
    """
    if streaming_phase not in STREAMING_PHASES:
        raise ValueError(f"streaming_phase must be 'high' or 'low', got {streaming_phase!r}")
    if medium.n_strips != 1:
        raise ValueError("the streaming kernel is 1D: use a medium with one strip")
    edges, kap = medium.strip(0)
    values = np.unique(kap)
    length = float(medium.length)
    if values.size == 1:
        return StreamingStrip(np.array([0.0, length]), kap[:1].copy(),
                              np.array([True]), 0.0, length)
    if values.size > 2:
        raise ValueError(
            f"the streaming kernel needs a two-phase medium (got {values.size} distinct kappa)"
        )
    s_val = values[1] if streaming_phase == "high" else values[0]
    phase = kap == s_val
    change = np.nonzero(phase != np.roll(phase, 1))[0]  # patch i starts a new run
    cuts = edges[change]
    origin = float(cuts[0])
    new_edges = np.concatenate([cuts - origin, [length]])
    runs = change
    return StreamingStrip(new_edges, kap[runs].astype(np.float64).copy(),
                          phase[runs].copy(), origin, length)


def estimate_events(
    medium: Medium, t_max: float, n_times: int, *, v_str: float = 1.0,
    sigma: float | None = None, streaming_phase: str = "high", safety: float = 8.0,
) -> float:
    """Rough events per particle to ``t_max`` (for cost estimates; calibration in
    docs/kernels.md): n_times + t_max·[(1−f)σ/2 + n_I (v/2)·2·max(1, θ̄/s̄)] (homogeneous:
    n_times + t_max·(σ/2 + v/P)), with f the
    diffusive length fraction, n_I interfaces per length, θ̄ = 2κ/v the mean exit push and
    s̄ = ℓ_d/(4·safety) the spread of a diffusive step next to a wall (ℓ_d: mean diffusive
    patch) — each visit of a diffusive patch costs ~ (θ̄/s̄) steps when the push is resolved.
    """
    strip = streaming_strip(medium, streaming_phase)
    ell = np.diff(strip.edges)
    k_str = float(strip.kappa[strip.is_str][0])
    sig = v_str * v_str / k_str if sigma is None else float(sigma)
    length = float(np.sum(ell))
    diff = ~strip.is_str
    f = float(np.sum(ell[diff]) / length)
    rate = (1.0 - f) * 0.5 * sig
    if diff.any():
        n_int = float(np.count_nonzero(strip.is_str != np.roll(strip.is_str, 1))) / length
        ell_d = float(np.mean(ell[diff]))
        theta = 2.0 * float(np.mean(strip.kappa[diff])) / v_str
        rate += n_int * 0.5 * v_str * 2.0 * max(1.0, theta / (ell_d / (4.0 * safety)))
    else:
        rate += v_str / length  # seam crossings of the single streaming patch
    return float(n_times + t_max * rate)
