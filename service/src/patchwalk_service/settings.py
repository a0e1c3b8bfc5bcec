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

    # ---- where tasks run (one cluster per process; a ``cluster`` kind may join these) ------
    scheduler: str | None = Field(
        default=None,
        description="address of an existing Dask scheduler; None = embedded LocalCluster",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="worker processes of the embedded LocalCluster (default: one per core)",
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
