"""patchwalk service: sweep engine on Dask, durable REST service, run/show/serve commands."""

__version__ = "0.1.0"
