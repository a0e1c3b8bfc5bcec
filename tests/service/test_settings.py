"""One settings model for ``run`` and ``serve``: argument > PATCHWALK_* environment > default."""

from __future__ import annotations

import argparse
import os

import pytest
from patchwalk_service.settings import ServiceSettings, SettingsError, settings_from_args


def args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {"workers": None, "scheduler": None, "max_in_flight": None,
                               "max_cpu_hours": None, "insecure": False, "json": False}
    base.update(kw)
    return argparse.Namespace(**base)


def test_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PATCHWALK_"):
            monkeypatch.delenv(name)
    s = settings_from_args(args())
    assert s.workers == (os.cpu_count() or 1) and s.max_in_flight is None
    assert s.max_cpu_hours == 100.0 and s.scheduler is None and not s.insecure
    monkeypatch.setenv("PATCHWALK_WORKERS", "3")
    monkeypatch.setenv("PATCHWALK_MAX_CPU_HOURS", "5")
    monkeypatch.setenv("PATCHWALK_INSECURE", "true")
    s = settings_from_args(args())
    assert (s.workers, s.max_cpu_hours, s.insecure) == (3, 5.0, True)
    s = settings_from_args(args(workers=5, max_cpu_hours=7.0))
    assert (s.workers, s.max_cpu_hours, s.insecure) == (5, 7.0, True)


def test_errors_name_the_option_or_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWALK_MAX_IN_FLIGHT", "0")
    with pytest.raises(SettingsError, match="PATCHWALK_MAX_IN_FLIGHT"):
        settings_from_args(args())
    monkeypatch.delenv("PATCHWALK_MAX_IN_FLIGHT")
    with pytest.raises(SettingsError, match="--workers"):
        settings_from_args(args(workers=0))
    assert ServiceSettings(max_in_flight=3).max_in_flight == 3


def test_default_workers_are_the_cores_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PATCHWALK_WORKERS", raising=False)
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert ServiceSettings().workers == 3  # a SLURM allocation of 3 cores on a 64-core node
