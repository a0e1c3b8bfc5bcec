"""The client stays thin: importing it pulls in none of the heavy numerical stack."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

HEAVY = ("numpy", "numba", "dask", "distributed", "zarr", "xarray")


def test_client_import_is_thin() -> None:
    modules = ["patchwalk_client", "patchwalk_client.spec", "patchwalk_client.sweep",
               "patchwalk_client.errors"]
    for optional in ("patchwalk_client.client", "patchwalk_client.cli"):
        if importlib.util.find_spec(optional) is not None:
            modules.append(optional)
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "from patchwalk_client.spec import load_spec\n"
        "from patchwalk_client.sweep import expand_points\n"
        "expand_points(load_spec({'medium': {'patches': [[1.0, 1.0]]},"
        " 'particles': {'count': 1}, 'times': {'min': 1.0, 'max': 2.0},"
        " 'sweep': {'energy': [1.0, 2.0]}}))\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert heavy == [], f"importing the client pulled in {heavy}"


def test_curated_top_level_names() -> None:
    code = (
        "import sys\n"
        "from patchwalk_client import Client, load_spec, SweepSpec, SpecError, parse_spec\n"
        "import patchwalk_client as p\n"
        "assert sorted(p.__all__) == sorted(['__version__', *p._EXPORTS])\n"
        "for name in p.__all__: getattr(p, name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
