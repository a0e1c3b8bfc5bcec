"""One realisation of a two-phase (or explicit) patchy medium.

A 1D medium is a periodic sequence of patches, each with a constant diffusion coefficient
κ; a 2D medium (Appendix D) is a stack of independent 1D strips of height l_⊥ with a
constant perpendicular coefficient κ⊥. Kernels see the medium as flat arrays (``edges``,
``kappa``, ``offsets``) so that numba can walk them without Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Medium:
    """Flat-array description of a medium realisation.

    Attributes
    ----------
    edges : ndarray of float64
        Patch edges, concatenated strip by strip. Strip ``s`` has ``offsets[s+1] - offsets[s]``
        patches; patch ``g`` (global index) of strip ``s`` spans
        ``[edges[g + s], edges[g + s + 1])``. Each strip's first edge is 0 and its last is
        ``length``.
    kappa : ndarray of float64
        κ of each patch (energy scaling already applied), indexed by global patch index.
    offsets : ndarray of int64
        Shape ``(n_strips + 1,)``; patches of strip ``s`` are ``kappa[offsets[s]:offsets[s+1]]``.
    length : float
        Period of every strip in x.
    l_perp : float
        Strip height (0 in 1D).
    kappa_perp : float
        Perpendicular diffusion coefficient κ⊥ (0 in 1D).
    """

    edges: np.ndarray
    kappa: np.ndarray
    offsets: np.ndarray
    length: float
    l_perp: float = 0.0
    kappa_perp: float = 0.0

    @property
    def n_strips(self) -> int:
        """Number of independent strips (1 in 1D)."""
        return int(self.offsets.shape[0] - 1)

    def strip(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Edges (``n+1``) and κ (``n``) of strip ``s``."""
        a, b = int(self.offsets[s]), int(self.offsets[s + 1])
        return self.edges[a + s : b + s + 1], self.kappa[a:b]

    def lengths(self) -> np.ndarray:
        """Patch lengths, indexed like ``kappa``."""
        return np.concatenate([np.diff(self.strip(s)[0]) for s in range(self.n_strips)])

    @property
    def kappa_A(self) -> float:
        """Arithmetic mean κ_A of this realisation (eq. 3), length-weighted."""
        ell = self.lengths()
        return float(np.sum(ell * self.kappa) / np.sum(ell))

    @property
    def kappa_H(self) -> float:
        """Harmonic mean κ_H of this realisation (eq. 4), length-weighted."""
        ell = self.lengths()
        return float(np.sum(ell) / np.sum(ell / self.kappa))

    @classmethod
    def from_patches(
        cls,
        patches: Sequence[tuple[float, float]],
        *,
        l_perp: float = 0.0,
        kappa_perp: float = 0.0,
    ) -> Medium:
        """Build a 1D periodic medium from explicit ``[(length, kappa), ...]`` pairs."""
        arr = np.asarray(patches, dtype=np.float64).reshape(-1, 2)
        edges = np.concatenate([[0.0], np.cumsum(arr[:, 0])])
        return cls(
            edges=edges,
            kappa=arr[:, 1].copy(),
            offsets=np.array([0, arr.shape[0]], dtype=np.int64),
            length=float(edges[-1]),
            l_perp=l_perp,
            kappa_perp=kappa_perp,
        )

    @classmethod
    def from_strips(
        cls,
        strips: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        l_perp: float,
        kappa_perp: float,
    ) -> Medium:
        """Stack 1D strips ``[(edges, kappa), ...]`` of equal period into a 2D medium."""
        edges = np.concatenate([np.asarray(e, dtype=np.float64) for e, _ in strips])
        kappa = np.concatenate([np.asarray(k, dtype=np.float64) for _, k in strips])
        counts = [len(k) for _, k in strips]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(
            edges=edges,
            kappa=kappa,
            offsets=offsets,
            length=float(strips[0][0][-1]),
            l_perp=l_perp,
            kappa_perp=kappa_perp,
        )
