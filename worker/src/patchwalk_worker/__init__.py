"""patchwalk worker: two-phase media, numba Monte-Carlo kernels, deterministic reference, theory."""

__version__ = "0.1.0"
