"""Shared statistics for the kernel tests."""

from __future__ import annotations

import numpy as np

#: tolerance of the statistical checks, in standard errors
K = 4.0


def kappa_bar(sums: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """κ̄ = ⟨Δx²⟩/(2t) and its particle standard error from Σ1, ΣΔx², ΣΔx⁴."""
    t = np.asarray(times, dtype=float)
    n = sums[:, 0]
    m2 = sums[:, 2] / n
    m4 = sums[:, 3] / n
    return m2 / (2 * t), np.sqrt(np.maximum(m4 - m2**2, 0.0) / n) / (2 * t)
