"""patchwalk client: the sweep spec schema, a thin REST client and the ``patchwalk`` CLI.

>>> from patchwalk_client import Client, load_spec, SweepSpec, SpecError   # doctest: +SKIP

Importing this package never imports numpy, numba, dask or zarr; the names below are loaded
on first use. Modules (each holds one concept; docs/interfaces.md has the map):
``spec`` (parse/load a spec, its hash), ``model``/``medium``/``options``/``axes`` (the spec
models), ``sweep`` (expanding the axes into points), ``schema`` (model base, field errors),
``errors`` (exceptions), ``models`` (REST wire and result models), ``client`` (httpx client).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS: dict[str, str] = {
    "Client": "client",
    "ClientSettings": "client",
    "Sweep": "client",
    "load_spec": "spec",
    "parse_spec": "spec",
    "spec_hash": "spec",
    "SweepSpec": "model",
    "expand_points": "sweep",
    "Point": "sweep",
    "PatchwalkError": "errors",
    "SpecError": "errors",
    "ServiceError": "errors",
    "SpecRejected": "errors",
    "SweepFailed": "errors",
    "SweepNotFound": "errors",
    "Unauthorized": "errors",
    "UnknownAxisError": "errors",
    "SweepStatus": "models",
    "SweepResults": "models",
    "KappaResults": "models",
    "Kappa2DResults": "models",
    "EscapeResults": "models",
    "TheoryResults": "models",
}

__all__ = [
    "Client", "ClientSettings", "EscapeResults", "Kappa2DResults", "KappaResults",
    "PatchwalkError", "Point", "ServiceError", "SpecError", "SpecRejected", "Sweep",
    "SweepFailed", "SweepNotFound", "SweepResults", "SweepSpec", "SweepStatus", "TheoryResults",
    "Unauthorized", "UnknownAxisError", "__version__", "expand_points", "load_spec",
    "parse_spec", "spec_hash",
]

if TYPE_CHECKING:  # pragma: no cover
    from patchwalk_client.client import Client, ClientSettings, Sweep
    from patchwalk_client.errors import (
        PatchwalkError,
        ServiceError,
        SpecError,
        SpecRejected,
        SweepFailed,
        SweepNotFound,
        Unauthorized,
        UnknownAxisError,
    )
    from patchwalk_client.model import SweepSpec
    from patchwalk_client.models import (
        EscapeResults,
        Kappa2DResults,
        KappaResults,
        SweepResults,
        SweepStatus,
        TheoryResults,
    )
    from patchwalk_client.spec import load_spec, parse_spec, spec_hash
    from patchwalk_client.sweep import Point, expand_points


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patchwalk_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"patchwalk_client.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
