"""The one settings model of ``patchwalk run`` and ``patchwalk serve`` (pydantic-settings).

Every field is also the environment variable ``PATCHWALK_<NAME>``. The layers, highest first,
as dask-jobqueue layers its own configuration: a command-line argument, then the environment,
then the default here (:func:`settings_from_args`). Cluster-side details — worker memory, the
comm and TLS options, and later the dask-jobqueue job options — stay in Dask's own
configuration (``~/.config/dask/*.yaml``, ``DASK_*``) and are never copied into this model.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "PATCHWALK_"


class ServiceSettings(BaseSettings):
    """What ``run`` and ``serve`` need; each field is also ``PATCHWALK_<NAME>``.

    ``PATCHWALK_TOKENS`` accepts a comma-separated list or a JSON list.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # ---- where tasks run (one cluster per process: patchwalk_service.cluster) --------------
    cluster: str = Field(
        default="local",
        description="local (embedded LocalCluster), slurm, pbs (dask-jobqueue, configured by "
                    "Dask's jobqueue.yaml), or the address of a running scheduler",
    )
    scheduler: str | None = Field(
        default=None,
        description="address of an existing Dask scheduler (the same as cluster=ADDRESS)",
    )
    workers: int = Field(
        default_factory=lambda: usable_cores(),
        ge=1,
        description="worker processes of the embedded LocalCluster (default: one per core "
                    "this process may use)",
    )
    interface: str | None = Field(
        default=None, description="network interface the scheduler binds (lo, ib0, ...)"
    )
    dashboard: str | None = Field(
        default=None, description="address of the Dask dashboard (e.g. 127.0.0.1:8787); none"
    )
    min_jobs: int = Field(default=0, ge=0, description="batch jobs kept when idle")
    max_jobs: int = Field(default=4, ge=1, description="batch jobs at most")
    idle_release: float = Field(
        default=60.0, ge=0, description="seconds of empty queue before batch jobs are released"
    )
    scale_interval: float = Field(
        default=2.0, gt=0, description="seconds between scaling decisions of a batch cluster"
    )
    # ---- how sweeps run (``run`` and ``serve`` alike) --------------------------------------
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="tasks submitted to the cluster at once (default: twice its workers)",
    )
    max_running: int = Field(
        default=4, ge=1, description="sweeps sharing the cluster at once (FIFO)"
    )
    max_cpu_hours: float = Field(
        default=100.0, gt=0,
        description="compute budget: estimated CPU-hours (workers x wall) per sweep",
    )
    max_points: int = Field(
        default=1000, ge=1, description="points one submitted sweep may expand to"
    )
    max_tasks: int = Field(
        default=100_000, ge=1, description="tasks one submitted sweep may have (all points)"
    )
    # ---- the REST service ------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("patchwalk-data")
    tokens: Annotated[list[str], NoDecode] = Field(default_factory=list)
    insecure: bool = False
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    page_size: int = Field(default=50, ge=1, le=1000)
    events_interval: float = Field(default=0.5, gt=0, description="seconds between progress events")
    events_max_seconds: float = Field(
        default=3600.0, gt=0, description="an event stream ends after this"
    )

    # ---- bounds on what clients may consume (limits.py, storage.py, routes/events.py) -------
    max_queued_per_token: int = Field(
        default=20, ge=1, description="queued or running sweeps per token (429 past it)"
    )
    submissions_per_minute: int = Field(
        default=60, ge=1, description="POST /v1/sweeps per token per minute (429 past it)"
    )
    max_disk_bytes: int | None = Field(
        default=None, ge=1, description="cap on the data directory's size (507 past it)"
    )
    retention_days: float | None = Field(
        default=None, gt=0, description="finished sweeps older than this are purged"
    )
    max_streams: int = Field(default=64, ge=1, description="open event streams in total")
    max_streams_per_client: int = Field(
        default=4, ge=1, description="open event streams per token (or per address without)"
    )

    @field_validator("tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [t.strip() for t in text.split(",") if t.strip()]
        return value

    @property
    def registry_path(self) -> Path:
        """SQLite file of the sweep registry."""
        return self.data_dir / "registry.db"

    @property
    def stores_dir(self) -> Path:
        """Folder holding one zarr store per sweep."""
        return self.data_dir / "stores"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a SLURM allocation), else all."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return os.cpu_count() or 1


class SettingsError(ValueError):
    """Settings that do not validate; the message names each variable or option to fix."""


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    """Settings with the layers argument > ``PATCHWALK_*`` environment > default.

    Every attribute of ``args`` named like a settings field and given (not None, not False)
    overrides the environment.

    Raises
    ------
    SettingsError
        A value (from either layer) is invalid.
    """
    overrides: dict[str, Any] = {}
    for name in ServiceSettings.model_fields:
        value = getattr(args, name, None)
        if value is not None and value is not False:
            overrides[name] = value
    try:
        return ServiceSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            where = f"--{name.replace('_', '-')}" if name in overrides else (
                f"{ENV_PREFIX}{name.upper()}")
            problems.append(f"{where}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
