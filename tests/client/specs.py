"""Helpers shared by the client tests: a small valid spec, TOML output of a spec."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from patchwalk_client.spec import SweepSpec


def small_spec() -> dict[str, Any]:
    """A small valid random two-phase spec (no name, seed or sweep)."""
    return {
        "medium": {
            "length": 1000.0,
            "high": {"kappa": 1.0,
                     "patches": {"pdf": "power_law", "alpha": 2.5, "l_min": 1.0, "l_max": 10.0}},
            "low": {"kappa": 1e-3, "patches": {"pdf": "same"}},
        },
        "particles": {"count": 100, "per_task": 50},
        "times": {"min": 0.1, "max": 100.0, "count": 5},
    }


def _toml_key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "_-" for c in key)
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _dump_toml(data: Mapping[str, Any]) -> str:
    """TOML text of a JSON-like mapping: scalars first, then sub-tables and table arrays."""
    lines: list[str] = []

    def table(path: str, d: Mapping[str, Any], header: str | None) -> None:
        subs = {k: v for k, v in d.items() if isinstance(v, Mapping)}
        arrays = {k: v for k, v in d.items() if isinstance(v, list) and v
                  and all(isinstance(x, Mapping) for x in v)}
        scalars = {k: v for k, v in d.items() if k not in subs and k not in arrays}
        if header is not None and (scalars or not (subs or arrays)):
            lines.extend(["", header])
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items())
        for k, v in subs.items():
            sub = f"{path}.{_toml_key(k)}" if path else _toml_key(k)
            table(sub, v, f"[{sub}]")
        for k, items in arrays.items():
            sub = f"{path}.{_toml_key(k)}" if path else _toml_key(k)
            for item in items:
                lines.extend(["", f"[[{sub}]]"])
                lines.extend(f"{_toml_key(a)} = {_toml_value(b)}" for a, b in item.items())

    table("", data, None)
    return "\n".join(lines).lstrip("\n") + "\n"


def to_toml(spec: SweepSpec) -> str:
    """The spec as TOML text (``load_spec`` reads it back to an equal spec)."""
    data = spec.model_dump(mode="json", exclude_none=True)
    if not data.get("sweep"):
        data.pop("sweep", None)
    return _dump_toml(data)
