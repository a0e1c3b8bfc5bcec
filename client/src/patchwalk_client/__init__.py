"""patchwalk client: the sweep spec schema, a thin REST client and the ``patchwalk`` CLI.

Importing this package never imports numpy, numba, dask or zarr.
"""

__version__ = "0.1.0"
