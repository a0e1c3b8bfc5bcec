"""Service settings, read from ``PATCHWALK_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from .cluster_session import ClusterSettings  # --cluster, --interface, --dashboard, jobs


class ServiceSettings(ClusterSettings):
    """Everything the REST service needs; each field is also ``PATCHWALK_<NAME>``.

    ``PATCHWALK_TOKENS`` accepts a comma-separated list or a JSON list.
    """

    model_config = SettingsConfigDict(env_prefix="PATCHWALK_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("patchwalk-data")
    scheduler: str | None = Field(
        default=None,
        description="address of an existing Dask scheduler; None = embedded LocalCluster",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="worker processes of the embedded LocalCluster (default: one per core)",
    )
    tokens: Annotated[list[str], NoDecode] = Field(default_factory=list)
    insecure: bool = False
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    max_in_flight: int = Field(
        default=8, ge=1, description="tasks submitted to the cluster at once"
    )
    max_running: int = Field(
        default=4, ge=1, description="sweeps sharing the cluster at once (FIFO)"
    )
    max_steps: float = Field(
        default=1e12, gt=0, description="compute budget: particle-steps per sweep"
    )
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
                import json

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

    def store_path(self, sweep_id: str) -> Path:
        """Zarr store of one sweep."""
        return self.stores_dir / f"{sweep_id}.zarr"
