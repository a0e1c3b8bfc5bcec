"""Which build of patchwalk computes a store's numbers: a digest of the code that decides them.

A store records the :func:`build_id` that created it. Resuming it (a restarted service, a
``patchwalk run --out`` of an unfinished store) or writing a task into it with another build
would mix numbers of two versions of the kernels in one result, which no determinism guarantee
covers: :meth:`patchwalk_worker.store.SweepStore.create_or_open` and the workers
(:func:`patchwalk_worker.execute.execute_task`) refuse it, naming both builds. A finished store
is read whatever its build (its results are complete and its own).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numba
import numpy as np


@functools.cache
def build_id() -> str:
    """16 hex digits of sha256 over every ``.py`` file of ``patchwalk_worker`` and
    ``patchwalk_client`` (path and content; the client holds the spec's defaults and the
    seed streams' rules) and the numpy and numba versions."""
    import patchwalk_client

    h = hashlib.sha256()
    for pkg in (Path(__file__).parent, Path(patchwalk_client.__file__).parent):
        for path in sorted(pkg.rglob("*.py")):
            h.update(f"{pkg.name}/{path.relative_to(pkg).as_posix()}\0".encode())
            h.update(path.read_bytes())
    h.update(f"numpy {np.__version__}\0numba {numba.__version__}".encode())
    return h.hexdigest()[:16]
