"""Where each theory curve holds, and the curves masked (NaN) outside it.

The paper derives its curves for stated regimes; outside them the formulas still return
numbers, which are not predictions. :func:`validated_curves` takes the curves of
:func:`patchwalk_worker.theory.theory_curves` and returns them with NaN outside each curve's
range, together with the range and the reason, so that ``/theory`` and ``patchwalk results
--what theory`` never show a value the paper does not support:

- eq. (7) (``scaling_7``): the subdiffusive transient of Section 3,
  l_min² ≤ κ_high t ≤ l_max², and only while above κ_H (eq. 4), the late-time limit the
  transient decays into (eq. 7 for α ≤ 2 is exactly 0 beyond l_max²/κ_high; for α > 2 it
  exceeds κ_A before l_min²/κ_high);
- eq. (6) (``scaling_6``) and eq. (C7) (``c7``): they neglect the low phase (leading order in
  κ_low/κ_high), so only while above κ_H;
- the short-time expansion (VALIDATION item 2, ``short_time``): t ≤ l_min²/(2κ_max), the
  regime of eq. (C8);
- κ_A, κ_H, κ⊥, the progressive harmonic mean (C1–C2) and eq. (11): every t.

:func:`escape_rate_8_values` gives the escape-rate estimate of eq. (8) at the escape distances
of a two-phase point (meaningful for l_min ≪ L_esc ≪ l_max, the paper's intermediate scales).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from patchwalk_worker.media import phase_pdfs
from patchwalk_worker.patches import filling_fraction
from patchwalk_worker.theory import escape_rate_8, f_longer_than, two_phase_means

FloatArray = NDArray[np.float64]

__all__ = ["curve_ranges", "escape_rate_8_values", "validated_curves"]

_EVERY_T = "valid at every t"


def _range(t_min: float | None, t_max: float | None, reason: str) -> dict[str, Any]:
    def fin(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else float(x)

    return {"t_min": fin(t_min), "t_max": fin(t_max), "reason": reason}


def curve_ranges(spec: Any, names: Any) -> dict[str, dict[str, Any]]:
    """``{curve: {"t_min", "t_max", "reason"}}`` for the curves ``names`` of a point spec.

    ``t_min``/``t_max`` are None where the range is open; ``reason`` says where the range
    comes from (and, for κ_H-floored curves, that they are also NaN once below κ_H).
    """
    m = spec.medium
    l_min = m.shortest_patch()
    kmax = max(spec.phase_kappas())
    out: dict[str, dict[str, Any]] = {}
    kh = kmax
    l_max_high = math.inf
    l_min_high = float(l_min)
    if m.patches is None:
        kh, _ = spec.kappa_high_low()
        high = m.phase_pdf("high")
        l_min_high = float(high.shortest())
        longest = high.longest()
        l_max_high = math.inf if longest is None else float(longest)
    for name in names:
        if name == "scaling_7":
            out[name] = _range(
                l_min_high**2 / kh, l_max_high**2 / kh,
                "eq. (7) describes the subdiffusive transient of Section 3: "
                "l_min^2 <= kappa_high t <= l_max^2 (high phase), and only while above "
                "kappa_H (eq. 4), the late-time limit; NaN outside")
        elif name == "scaling_6":
            out[name] = _range(
                None, None,
                "eq. (6) counts the particles still in their first high patch: NaN once it "
                "falls below kappa_H (eq. 4), the late-time limit")
        elif name == "c7":
            out[name] = _range(
                None, None,
                "eq. (C7) is leading order in kappa_low/kappa_high: NaN once it falls below "
                "kappa_H (eq. 4), where the low phase dominates")
        elif name == "short_time":
            out[name] = _range(
                None, l_min**2 / (2 * kmax),
                "short-time expansion (VALIDATION item 2): t <= l_min^2/(2 kappa_max), the "
                "regime of eq. (C8); NaN after")
        elif name == "scaling_11":
            out[name] = _range(None, None, "eq. (11): kappa_2D at tau_perp = l_perp^2/kappa_perp,"
                                           " a constant in t")
        else:
            out[name] = _range(None, None, _EVERY_T)
    return out


def _harmonic_floor(spec: Any, curves: Mapping[str, FloatArray]) -> float:
    if "kappa_H" in curves and len(curves["kappa_H"]):
        return float(np.asarray(curves["kappa_H"])[0])
    return -math.inf


def validated_curves(
    spec: Any, t: FloatArray, curves: Mapping[str, FloatArray]
) -> tuple[dict[str, FloatArray], dict[str, dict[str, Any]]]:
    """The curves with NaN outside their range of validity, and the ranges.

    Parameters
    ----------
    spec : SweepSpec
        The resolved point spec the curves were computed for.
    t : ndarray
        Output times of the curves.
    curves : mapping
        :func:`patchwalk_worker.theory.theory_curves` at ``t``.

    Returns
    -------
    (curves, ranges)
        New arrays (the input is not modified) and :func:`curve_ranges` of every curve.
    """
    t = np.asarray(t, dtype=np.float64)
    ranges = curve_ranges(spec, list(curves))
    floor = _harmonic_floor(spec, curves)
    out: dict[str, FloatArray] = {}
    for name, values in curves.items():
        v = np.array(values, dtype=np.float64, copy=True)
        r = ranges[name]
        keep = np.ones(v.shape, dtype=bool)
        if v.shape == t.shape:
            if r["t_min"] is not None:
                keep &= t >= r["t_min"] * (1 - 1e-12)
            if r["t_max"] is not None:
                keep &= t <= r["t_max"] * (1 + 1e-12)
        if name in ("scaling_6", "scaling_7", "c7"):
            keep &= v >= floor * (1 - 1e-12)
        v[~keep] = np.nan
        out[name] = v
    return out, ranges


def escape_rate_8_values(spec: Any, distances: FloatArray) -> FloatArray | None:
    """Eq. (8) at each escape distance of a two-phase point, or None (explicit media).

    t_esc⁻¹ ~ κ_high f_{l>L}/L² + κ_H (1 − f_{l>L})/L², with f_{l>L} of the ensemble
    (:func:`patchwalk_worker.theory.f_longer_than`) and κ_H of eq. (5).
    """
    if spec.medium.patches is not None or not len(distances):
        return None
    high, low = phase_pdfs(spec)
    kh, kl = spec.kappa_high_low()
    _, k_harm = two_phase_means(filling_fraction(high, low), kh, kl)
    d = np.asarray(distances, dtype=np.float64)
    return escape_rate_8(d, kh, k_harm, f_longer_than(d, high, low))
