"""A small valid spec shared by the client tests."""

from __future__ import annotations

from typing import Any


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
