"""The kernel registry: one declaration per kernel, checked against the spec's table."""

from __future__ import annotations

import pytest
from patchwalk_client.options import KERNEL_OPTIONS
from patchwalk_client.spec import load_spec
from patchwalk_worker.kernels.registry import KERNELS, get_kernel, warm_up, warm_up_spec


def test_registry_matches_the_spec_table() -> None:
    assert list(KERNELS) == list(KERNEL_OPTIONS)
    for name, kernel in KERNELS.items():
        assert kernel.name == name and kernel.options is KERNEL_OPTIONS[name]


def test_every_kernel_declares_a_cost_and_runs_its_warm_up_spec() -> None:
    for name, kernel in KERNELS.items():
        for dims in kernel.warm_up or (1,):
            spec = load_spec(warm_up_spec(name, dims))
            assert kernel.cost(spec) > 0
            if kernel.dt is not None:
                assert 0 < kernel.dt(spec) <= spec.times.max
            assert kernel.check(spec, 1e12) == []


def test_get_kernel_names_the_choices() -> None:
    with pytest.raises(ValueError, match="exact, euler, pitch, reference, streaming"):
        get_kernel("levy")


def test_warm_up_only_the_named_kernels() -> None:
    assert warm_up(["pitch"]) == ["pitch1d"]
    assert warm_up(["reference"]) == []  # nothing to compile
    with pytest.raises(ValueError, match="no kernel named"):
        warm_up(["nope"])
