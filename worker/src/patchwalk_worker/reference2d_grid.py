"""x- and y-cells of the 2D reference lattice (:mod:`patchwalk_worker.reference2d`).

x: one grid for every row, between consecutive points of the *union* of all strips' patch
edges, so each strip's interfaces lie on x-faces (Appendix D's stacked strips, eq. D1). With
many strips the union has near-coincident edges of different strips; a sliver segment of
width δ would get cells of δ/4 and an eigenvalue ~κ/(δh) of A, which sets the Lanczos step
count (√λ_max) and the block solver's conditioning. So

* union edges closer than ``merge`` (default h0/4) are merged into the first of them: each
  strip interface then moves by less than ``merge`` — a first-order grid error, ≲ merge/l
  relative (measured in docs/reference.md), absent unless edges of different strips nearly
  coincide;
* a segment shorter than 4·h0 (where the graded rule would make cells finer than h0) gets
  max(1, round(ℓ/h0)) uniform cells; longer segments are graded from h0 at both ends as in 1D
  (:func:`~patchwalk_worker.reference.patch_cells`).

y: ``cells_per_strip`` cells per strip graded geometrically from both strip edges.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from patchwalk_worker.media import Medium
from patchwalk_worker.reference import patch_cells

FloatArray = NDArray[np.float64]

#: Union edges closer than this fraction of h0 are merged (module docstring).
MERGE_FRACTION = 0.25
#: Segments shorter than this many h0 get uniform cells of about h0 (module docstring).
SHORT_SEGMENT = 4.0


def union_edges(medium: Medium, merge: float = 0.0, tol: float = 1e-12) -> FloatArray:
    """Sorted union of every strip's patch edges in [0, length], 0 and ``length`` included.

    Edges closer than ``max(merge, tol·length)`` to the last kept edge are dropped (and one
    closer than that to ``length`` as well), so no segment is shorter than that.
    """
    length = float(medium.length)
    all_e = np.sort(np.concatenate([medium.strip(s)[0] for s in range(medium.n_strips)]))
    gap = max(float(merge), tol * length)
    kept = [0.0]
    for e in all_e[(all_e > gap) & (all_e < length - gap)]:
        if e - kept[-1] >= gap:
            kept.append(float(e))
    kept.append(length)
    return np.asarray(kept, dtype=np.float64)


def strip_l_min(medium: Medium) -> float:
    """Shortest patch over all strips, not counting each strip's closing (trimmed) patch."""
    vals = []
    for s in range(medium.n_strips):
        ell = np.diff(medium.strip(s)[0])
        vals.append(float(np.min(ell[:-1] if ell.shape[0] >= 3 else ell)))
    return min(vals)


def x_cells(lengths: FloatArray, h0: float, ratio: float) -> tuple[FloatArray,
                                                                     NDArray[np.int64]]:
    """Cell widths of the union segments and the segment of each cell (module docstring)."""
    ell = np.asarray(lengths, dtype=np.float64)
    short = ell < SHORT_SEGMENT * h0
    if not np.any(short):
        return patch_cells(ell, h0, ratio)
    h_long, seg_long = patch_cells(ell[~short], h0, ratio)
    long_idx = np.flatnonzero(~short)
    n_short = np.maximum(1, np.rint(ell[short] / h0)).astype(np.int64)
    counts = np.zeros(ell.shape[0], dtype=np.int64)
    counts[short] = n_short
    counts[~short] = np.bincount(seg_long, minlength=long_idx.shape[0])
    seg = np.repeat(np.arange(ell.shape[0], dtype=np.int64), counts)
    h = np.empty(seg.shape[0])
    is_short = short[seg]
    h[is_short] = np.repeat(ell[short] / n_short, n_short)
    h[~is_short] = h_long
    return h, seg


def y_cells(l_perp: float, n: int, grading: float) -> FloatArray:
    """Heights of ``n`` cells across one strip, graded geometrically from both edges."""
    if n < 1:
        raise ValueError(f"cells_per_strip must be >= 1, got {n}")
    if n == 1:
        return np.array([l_perp])
    half = n // 2
    w = grading ** np.arange(half, dtype=np.float64)
    side = np.concatenate([w, [w[-1] * grading] if n % 2 else [], w[::-1]])
    return np.asarray(l_perp * side / side.sum(), dtype=np.float64)
