"""Helpers of the reliability suite: measured figures (printed at the end by conftest's hook),
the suite's small sweep, and digests of a store's values and of its chunk files' identity.

``record("SIGKILL x3: tasks recomputed", 0)`` from any test; the terminal summary lists every
figure in the order recorded. Figures are measured in the run that prints them, never copied.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import zarr

FIGURES: list[tuple[str, str]] = []


def record(name: str, value: object) -> None:
    """Keep one measured figure for the end-of-run summary."""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    FIGURES.append((name, text))


#: A small, feasible 1D sweep: 2 points x 6 tasks of ~0.1-0.3 s each.
SMALL_SPEC: dict[str, Any] = {
    "name": "reliability",
    "seed": 21,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 6000, "per_task": 1000},
    "times": {"min": 0.01, "max": 30.0, "count": 6},
    "escape": {"distances": [1.0, 3.0]},
    "sweep": {"seed": [21, 22]},
}


def values_digest(store: Path, group: str = "tasks") -> str:
    """sha256 of the decoded values of every array of ``store/group`` (sorted by name)."""
    h = hashlib.sha256()
    g = zarr.open_group(str(store), mode="r", use_consolidated=False)
    sub = g[group]
    assert isinstance(sub, zarr.Group)
    for name, arr in sorted(sub.arrays()):
        a = np.asarray(arr[...])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def chunk_stats(store: Path) -> dict[tuple[int, int], tuple[int, ...]]:
    """mtime_ns and inode of every chunk file of each finished task (to count recomputation)."""
    done = zarr.open_group(str(store), mode="r", use_consolidated=False)["tasks/done"][...]
    out: dict[tuple[int, int], tuple[int, ...]] = {}
    for p, t in zip(*np.nonzero(done), strict=True):
        files = []
        for name in ("sums", "esc", "realisation", "steps", "done"):
            files += sorted((store / "tasks" / name / "c" / str(p) / str(t)).rglob("*"))
            leaf = store / "tasks" / name / "c" / str(p) / str(t)
            if leaf.is_file():
                files.append(leaf)
        out[(int(p), int(t))] = tuple(
            v for f in files if f.is_file() for v in (f.stat().st_mtime_ns, f.stat().st_ino)
        )
    return out
