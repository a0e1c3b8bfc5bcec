"""Spec text shared by the end-to-end tests of the CLI and of the service's inspect routes."""

from __future__ import annotations


def spec_2d(name: str) -> str:
    """A small 2D sweep (κ⊥ ∈ {0, 0.1}) with escape distances, as TOML text."""
    return f"""
name = "{name}"
seed = 3
dimensions = 2
[medium]
length = 200.0
l_perp = 1.0
[medium.high]
kappa = 1.0
patches = {{ pdf = "power_law", alpha = 3.5, l_min = 1.0, l_max = 20.0 }}
[medium.low]
kappa = 0.01
patches = {{ pdf = "same" }}
[particles]
count = 200
per_task = 100
[times]
min = 0.01
max = 100.0
count = 5
[escape]
distances = [2.0, 5.0]
[sweep]
"medium.kappa_perp" = [0.0, 0.1]
"""
