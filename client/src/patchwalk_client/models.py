"""Wire models of the REST API (shared by the service and the client; pydantic only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SweepState = Literal["queued", "running", "done", "failed", "cancelled"]
TERMINAL_STATES: tuple[str, ...] = ("done", "failed", "cancelled")


class SweepStatus(BaseModel):
    """State and progress of one sweep (``GET /v1/sweeps/{id}``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    state: SweepState
    created: str = Field(description="ISO 8601, UTC")
    updated: str = Field(description="ISO 8601, UTC")
    error: str | None = None
    n_points: int = 0
    tasks_done: int = 0
    tasks_total: int = 0
    steps_done: float = 0.0
    steps_per_second: float | None = None
    eta_seconds: float | None = None
    estimated_steps: float | None = None
    spec_hash: str = ""
    links: dict[str, str] = Field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True once the sweep is done, failed or cancelled."""
        return self.state in TERMINAL_STATES


class SweepPage(BaseModel):
    """One page of ``GET /v1/sweeps``."""

    items: list[SweepStatus]
    total: int
    limit: int
    offset: int
    next: str | None = None


class PointResult(BaseModel):
    """κ̄(t) of one point: the ``patchwalk run --json`` shape (docs/interfaces.md §9)."""

    model_config = ConfigDict(extra="allow")

    params: dict[str, Any]
    t: list[float | None]
    kappa: list[float | None]
    kappa_err: list[float | None]
    kappa_err_source: str
    kappa_A: float | None
    kappa_H: float | None
    kappa_A_ensemble: float | None = None
    kappa_H_ensemble: float | None = None
    n_particles: int
    n_tasks: int


class KappaResults(BaseModel):
    """``GET /v1/sweeps/{id}/kappa``."""

    model_config = ConfigDict(extra="allow")

    points: list[PointResult]


class Problem(BaseModel):
    """RFC 9457 problem details (every 4xx/5xx answer)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str = ""
    status: int = 0
    detail: str = ""
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
