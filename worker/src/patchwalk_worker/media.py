"""One realisation of a two-phase (or explicit) patchy medium.

A 1D medium is a periodic sequence of patches, each with a constant diffusion coefficient
κ; a 2D medium (Appendix D) is a stack of independent 1D strips of height l_⊥ with a
constant perpendicular coefficient κ⊥. Kernels see the medium as flat arrays (``edges``,
``kappa``, ``offsets``) so that numba can walk them without Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from patchwalk_worker.patches import AnyPdf, PatchPdf, filling_fraction, pdf_from_spec


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


# ----------------------------------------------------------------------------------------------
# Random two-phase media
# ----------------------------------------------------------------------------------------------

_START_PHASES = ("high", "low", "random")


def generate_strip(
    high_pdf: PatchPdf,
    low_pdf: PatchPdf,
    kappa_high: float,
    kappa_low: float,
    length: float,
    rng: np.random.Generator,
    *,
    start_phase: str = "random",
) -> tuple[np.ndarray, np.ndarray]:
    """One periodic strip of alternating high/low patches.

    Patches are drawn back to back (Appendix D) — high lengths from ``high_pdf``, low lengths
    from ``low_pdf`` — until they cover ``length``. Closing the strip: the patch that crosses
    ``length`` is trimmed to end exactly there. Phases always alternate; when the trimmed last
    patch has the same phase as the first, the two form a single patch straddling the periodic
    boundary (the edge at 0 ≡ ``length`` then separates equal κ and is not an interface; the
    kernels and the reference treat it as such). Either way only the one patch at the seam
    departs from the pdfs, an O(l_max / length) effect.

    Keep ``length`` ≳ 50 l_max (or ≳ 50 × a high quantile of the pdf if l_max is infinite):
    a shorter strip samples the tail of a heavy power law poorly and its κ_A, κ_H differ from
    the ensemble values (see VALIDATION.md item 10).

    Parameters
    ----------
    high_pdf, low_pdf : PatchPdf
        Patch-length pdfs of the two phases (:mod:`patchwalk_worker.patches`).
    kappa_high, kappa_low : float
        κ of each phase (energy scaling already applied).
    length : float
        Period of the strip.
    rng : numpy.random.Generator
        Source of randomness (the only one).
    start_phase : {"random", "high", "low"}
        Phase of the first patch; ``"random"`` picks low with probability f (eq. 5).

    Returns
    -------
    edges : ndarray, shape (n + 1,)
        ``0 = edges[0] < ... < edges[n] = length``.
    kappa : ndarray, shape (n,)
    """
    if start_phase not in _START_PHASES:
        raise ValueError(f"start_phase must be one of {_START_PHASES}, got {start_phase!r}")
    if not (length > 0 and np.isfinite(length)):
        raise ValueError(f"medium length must be positive and finite, got {length}")
    if start_phase == "random":
        f = filling_fraction(high_pdf, low_pdf)
        first_low = bool(rng.random() < f)
    else:
        first_low = start_phase == "low"
    first, second = (low_pdf, high_pdf) if first_low else (high_pdf, low_pdf)
    k_first, k_second = (kappa_low, kappa_high) if first_low else (kappa_high, kappa_low)
    pair_mean = high_pdf.moment(1) + low_pdf.moment(1)
    chunks: list[np.ndarray] = []
    total = 0.0
    n_pairs = int(np.ceil(1.2 * length / pair_mean)) + 8
    while total < length:
        a = first.sample(rng, n_pairs)
        b = second.sample(rng, n_pairs)
        pairs = np.empty(2 * n_pairs)
        pairs[0::2] = a
        pairs[1::2] = b
        chunks.append(pairs)
        total += float(pairs.sum())
        n_pairs = max(n_pairs // 4, 8)
    lengths = np.concatenate(chunks)
    cum = np.cumsum(lengths)
    n = int(np.searchsorted(cum, length, side="left")) + 1  # patches [0, n) reach `length`
    edges = np.empty(n + 1)
    edges[0] = 0.0
    edges[1:] = cum[:n]
    edges[n] = length
    if n > 1 and edges[n - 1] >= length:  # guard against round-off producing an empty patch
        n -= 1
        edges = edges[: n + 1]
        edges[n] = length
    kappa = np.where(np.arange(n) % 2 == 0, k_first, k_second).astype(np.float64)
    return edges, kappa


def generate_two_phase(
    high_pdf: PatchPdf,
    low_pdf: PatchPdf,
    kappa_high: float,
    kappa_low: float,
    length: float,
    rng: np.random.Generator,
    *,
    n_strips: int = 1,
    start_phase: str = "random",
    l_perp: float = 0.0,
    kappa_perp: float = 0.0,
) -> Medium:
    """A 1D two-phase medium, or in 2D ``n_strips`` independent strips of the same period.

    See :func:`generate_strip` for how each strip is drawn and closed. Strips are drawn one
    after another from ``rng``, each with its own start phase.
    """
    if n_strips < 1:
        raise ValueError(f"n_strips must be >= 1, got {n_strips}")
    strips = [
        generate_strip(
            high_pdf, low_pdf, kappa_high, kappa_low, length, rng, start_phase=start_phase
        )
        for _ in range(n_strips)
    ]
    return Medium.from_strips(strips, l_perp=l_perp, kappa_perp=kappa_perp)


def auto_strips(kappa_perp: float, t_max: float, l_perp: float) -> int:
    """Strip count so that √(2κ⊥ t_max) spans a few strips: clip(ceil(3√(2κ⊥t)/l⊥), 8, 512)."""
    if kappa_perp <= 0 or t_max <= 0:
        return 8
    return int(np.clip(np.ceil(3.0 * np.sqrt(2.0 * kappa_perp * t_max) / l_perp), 8, 512))


def phase_pdfs(spec: Any) -> tuple[AnyPdf, AnyPdf]:
    """(high, low) patch pdfs of a two-phase point spec, ``pdf = "same"`` resolved by the spec
    (``MediumSpec.phase_pdf``)."""
    high, low = spec.medium.phase_pdf("high"), spec.medium.phase_pdf("low")
    if high is None or low is None:
        raise ValueError("give medium.patches, or medium.high, medium.low and medium.length")
    return pdf_from_spec(high), pdf_from_spec(low)


def strip_count(spec: Any, t_max: float) -> int:
    """Strips of a realisation drawn for output times up to ``t_max`` (the one rule).

    1 in 1D and for explicit ``medium.patches`` (one strip, the same at every y); otherwise
    ``medium.strips``, or :func:`auto_strips` of the energy-scaled κ⊥, ``t_max`` and l⊥.
    """
    m = spec.medium
    if int(spec.dimensions) != 2 or m.patches is not None:
        return 1
    if m.strips:
        return int(m.strips)
    return auto_strips(spec.kappa_perp_scaled(), t_max, float(m.l_perp or 0.0))


def build_medium(spec: Any, rng: np.random.Generator, t_max: float) -> Medium:
    """Draw the medium of one task from a resolved point spec (``patchwalk_client.spec``).

    Explicit ``medium.patches`` give :meth:`Medium.from_patches` (no energy scaling; in 2D one
    strip, the same at every y). Otherwise each strip is drawn by :func:`generate_strip` with
    κ = κ·(E/E0)^β per phase (``SweepSpec.kappa_high_low``); in 2D the number of strips is
    :func:`strip_count`.
    """
    m = spec.medium
    two_d = int(spec.dimensions) == 2
    l_perp = float(m.l_perp or 0.0) if two_d else 0.0
    k_perp = spec.kappa_perp_scaled()
    if two_d and l_perp <= 0:
        raise ValueError("medium.l_perp must be > 0 when dimensions = 2")
    if m.patches is not None:
        return Medium.from_patches(m.patches, l_perp=l_perp, kappa_perp=k_perp)
    if m.length is None:
        raise ValueError("give medium.patches, or medium.high, medium.low and medium.length")
    high, low = phase_pdfs(spec)
    k_high, k_low = spec.kappa_high_low()
    return generate_two_phase(
        high, low, k_high, k_low, float(m.length), rng, n_strips=strip_count(spec, t_max),
        start_phase=str(m.start_phase), l_perp=l_perp, kappa_perp=k_perp,
    )


def ensemble_means(spec: Any) -> tuple[float, float]:
    """Ensemble (κ_A, κ_H) from the pdfs (eqs 3–5), f = ⟨l_low⟩/(⟨l_low⟩ + ⟨l_high⟩).

    For an explicit ``medium.patches`` medium these are the medium's own means.
    """
    m = spec.medium
    if m.patches is not None:
        med = Medium.from_patches(m.patches)
        return med.kappa_A, med.kappa_H
    high, low = phase_pdfs(spec)
    f = filling_fraction(high, low)
    k_high, k_low = spec.kappa_high_low()
    return f * k_low + (1 - f) * k_high, 1.0 / (f / k_low + (1 - f) / k_high)
