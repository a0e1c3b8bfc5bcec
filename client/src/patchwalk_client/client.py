"""Thin REST client of the patchwalk service (httpx + pydantic; no numpy, dask or zarr).

>>> from patchwalk_client import Client
>>> c = Client("http://127.0.0.1:8000")               # doctest: +SKIP
>>> sweep = c.submit("examples/tour.toml")             # doctest: +SKIP
>>> sweep.wait()                                       # doctest: +SKIP
>>> sweep.kappa().points[0].kappa                     # doctest: +SKIP
>>> sweep.kappa()["points"][0]["kappa"]                # doctest: +SKIP (dict access too)
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ServiceError, SpecRejected, SweepFailed, SweepNotFound, Unauthorized
from .models import (
    DensityResults,
    EscapeResults,
    Kappa2DResults,
    KappaResults,
    SweepPage,
    SweepStatus,
    TheoryResults,
)

DEFAULT_URL = "http://127.0.0.1:8000"


class ClientSettings(BaseSettings):
    """Where the service is and how to authenticate: ``PATCHWALK_URL``, ``PATCHWALK_TOKEN``.

    :class:`Client` layers them: an argument wins over the environment, which wins over
    these defaults. An empty variable counts as unset.
    """

    model_config = SettingsConfigDict(env_prefix="PATCHWALK_", extra="ignore")

    url: str = DEFAULT_URL
    token: str | None = None
_SPEC_SUFFIXES = {
    ".toml": "application/toml",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
        if not isinstance(problem, dict):
            problem = {"detail": str(problem)}
    except ValueError:
        problem = {"detail": response.text[:500]}
    detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    status = response.status_code
    msg = f"{status} {problem.get('title', response.reason_phrase)}: {detail}"
    if status == 401:
        raise Unauthorized(msg + " (pass token=... or set PATCHWALK_TOKEN)", status, problem)
    if status == 404 and "/sweeps/" in response.request.url.path:
        raise SweepNotFound(msg, status, problem)
    if status in (413, 415, 422) and response.request.method == "POST":
        raise SpecRejected(msg, status, problem)
    raise ServiceError(msg, status, problem)


class Client:
    """Talks to a patchwalk service.

    Parameters
    ----------
    base_url : str
        Service root, e.g. ``http://127.0.0.1:8000`` (default ``$PATCHWALK_URL`` or that).
    token : str, optional
        Bearer token (default ``$PATCHWALK_TOKEN``).
    timeout : float
        Seconds per request.
    transport : httpx.BaseTransport, optional
        For tests (e.g. ``httpx.WSGITransport``/a mock).
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = ClientSettings()
        self.base_url = (base_url or settings.url or DEFAULT_URL).rstrip("/")
        token = token if token is not None else settings.token or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"base_url": self.base_url, "headers": headers, "timeout": timeout}
        if transport is not None:
            kwargs["transport"] = transport
        self.http = httpx.Client(**kwargs)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; raise the typed error of a problem answer."""
        response = self.http.request(method, path, **kwargs)
        _raise_for(response)
        return response

    # ---- sweeps ---------------------------------------------------------------------------
    def submit(self, spec: Any) -> Sweep:
        """Submit a spec: a path, TOML/JSON/YAML text, a dict or a ``SweepSpec``.

        The same spec again returns the existing sweep. Raises :class:`SpecRejected`.
        """
        content, ctype = _encode_spec(spec)
        r = self.request("POST", "/v1/sweeps", content=content, headers={"content-type": ctype})
        status = SweepStatus.model_validate(r.json())
        return Sweep(self, status.id, status, created=r.status_code == 202)

    def get(self, sweep_id: str) -> Sweep:
        """The sweep with this id (raises :class:`SweepNotFound`)."""
        status = SweepStatus.model_validate(self.request("GET", f"/v1/sweeps/{sweep_id}").json())
        return Sweep(self, sweep_id, status)

    def list(self, state: str | None = None, *, limit: int | None = None) -> list[SweepStatus]:
        """Sweeps, newest first (all pages, or the first ``limit``), optionally by ``state``."""
        params: dict[str, Any] = {"state": state} if state else {}
        out: list[SweepStatus] = []
        url: str | None = "/v1/sweeps"
        for _ in range(10_000):
            if url is None:
                break
            page = SweepPage.model_validate(self.request("GET", url, params=params).json())
            out.extend(page.items)
            if limit is not None and len(out) >= limit:
                return out[:limit]
            url, params = page.next, {}
        return out


def _encode_spec(spec: Any) -> tuple[bytes, str]:
    if hasattr(spec, "model_dump"):
        return json.dumps(spec.model_dump(mode="json")).encode(), "application/json"
    if isinstance(spec, Mapping):
        return json.dumps(dict(spec)).encode(), "application/json"
    if isinstance(spec, Path) or (
        isinstance(spec, str) and "\n" not in spec and Path(spec).suffix.lower() in _SPEC_SUFFIXES
    ):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"spec file {path} not found; pass a path, text or a dict")
        return path.read_bytes(), _SPEC_SUFFIXES.get(path.suffix.lower(), "text/plain")
    if isinstance(spec, str):
        ctype = "application/json" if spec.lstrip().startswith("{") else "text/plain"
        return spec.encode(), ctype
    raise TypeError(f"cannot submit a {type(spec).__name__}: pass a path, text, dict or SweepSpec")


class Sweep:
    """A sweep on the service (a handle: every call asks the service)."""

    def __init__(
        self,
        client: Client,
        sweep_id: str,
        status: SweepStatus | None = None,
        created: bool = False,
    ) -> None:
        self.client = client
        self.id = sweep_id
        self.created = created
        self._status = status

    def __repr__(self) -> str:
        state = self._status.state if self._status else "?"
        return f"Sweep({self.id!r}, state={state!r})"

    def _get(self, name: str, **params: Any) -> Any:
        return self.client.request("GET", f"/v1/sweeps/{self.id}/{name}", params=params).json()

    def status(self) -> SweepStatus:
        """State, tasks done/total, particle-steps/s, ETA and error."""
        data = self.client.request("GET", f"/v1/sweeps/{self.id}").json()
        self._status = SweepStatus.model_validate(data)
        return self._status

    def spec(self) -> dict[str, Any]:
        """The sweep's spec as the service validated it (``GET /v1/sweeps/{id}/spec``)."""
        out: dict[str, Any] = self._get("spec")
        return out

    def medium(self, point: int = 0, task: int = 0) -> dict[str, Any]:
        """One medium realisation of the sweep, rebuilt from its seed stream:
        ``{"point", "task", "edges", "kappa", "offsets", "length", ...}``."""
        out: dict[str, Any] = self._get("medium", point=point, task=task)
        return out

    def cancel(self) -> SweepStatus:
        """Cancel the sweep (submit the same spec again to resume it)."""
        data = self.client.request("DELETE", f"/v1/sweeps/{self.id}").json()
        self._status = SweepStatus.model_validate(data)
        return self._status

    def purge(self) -> None:
        """Cancel the sweep and remove its store and record from the service (irreversible)."""
        self.client.request("DELETE", f"/v1/sweeps/{self.id}", params={"purge": "true"})

    def events(self, timeout: float | None = None) -> Iterator[SweepStatus]:
        """Progress from the server-sent event stream until the sweep ends."""
        with self.client.http.stream(
            "GET",
            f"/v1/sweeps/{self.id}/events",
            timeout=httpx.Timeout(self.client.http.timeout.connect, read=timeout or 60.0),
        ) as r:
            if r.status_code >= 400:
                r.read()
                _raise_for(r)
            for line in r.iter_lines():
                if line.startswith("data: ") and len(line) > 8:
                    data = json.loads(line[6:])
                    if "id" in data:
                        self._status = SweepStatus.model_validate(data)
                        yield self._status

    def wait(
        self, progress: bool = True, timeout: float | None = None, poll: float = 1.0
    ) -> SweepStatus:
        """Block until the sweep ends; a tqdm bar shows tasks done (events, else polling).

        Raises :class:`SweepFailed` if it fails or is cancelled, ``TimeoutError`` after
        ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=None, unit="task", desc=f"sweep {self.id[:8]}")

        def show(st: SweepStatus) -> None:
            if bar is None:
                return
            bar.total = st.tasks_total
            bar.n = st.tasks_done
            rate = st.steps_per_second
            bar.set_postfix_str(f"{st.state}" + (f", {rate:.3g} steps/s" if rate else ""))
            bar.refresh()

        try:
            st = self.status()
            show(st)
            try:
                for st in self.events(timeout=30.0):
                    show(st)
                    if st.finished or (deadline is not None and time.monotonic() > deadline):
                        break
            except (httpx.HTTPError, ValueError):
                pass  # fall back to polling
            for _ in range(10_000_000):
                st = self.status()
                show(st)
                if st.finished:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"sweep {self.id} is still {st.state} after {timeout} s "
                        f"({st.tasks_done}/{st.tasks_total} tasks)"
                    )
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
        if st.state != "done":
            raise SweepFailed(
                f"sweep {self.id} {st.state}" + (f": {st.error}" if st.error else ""),
                state=st.state,
                error=st.error,
            )
        return st

    def kappa(self, **filters: Any) -> KappaResults:
        """κ̄(t) per point (the ``patchwalk run --json`` shape), typed.

        Filter with sweep axes: ``sweep.kappa(**{"energy": 10})``. Scripts may also read it as
        the JSON dict: ``sweep.kappa()["points"][0]["kappa"]``.
        """
        return KappaResults.model_validate(self._get("kappa", **filters))

    def kappa2d(self, **filters: Any) -> Kappa2DResults:
        """Converged κ̄_2D per point (2D sweeps)."""
        return Kappa2DResults.model_validate(self._get("kappa2d", **filters))

    def escape(self, **filters: Any) -> EscapeResults:
        """Escape fractions, mean times and rates per point and distance."""
        return EscapeResults.model_validate(self._get("escape", **filters))

    def theory(self, **filters: Any) -> TheoryResults:
        """Theory curves per point."""
        return TheoryResults.model_validate(self._get("theory", **filters))

    def density(self, **filters: Any) -> DensityResults:
        """n(x, t) of a point source per point (the spec's ``[density]``; Fig. 2)."""
        return DensityResults.model_validate(self._get("density", **filters))

    def plot_png(self) -> bytes:
        """The summary figure as PNG bytes."""
        return self.client.request("GET", f"/v1/sweeps/{self.id}/plot.png").content

    def download(self, path: str | Path) -> Path:
        """Save the results (the zarr store, zipped) to ``path``."""
        path = Path(path)
        with self.client.http.stream("GET", f"/v1/sweeps/{self.id}/dataset") as r:
            if r.status_code >= 400:
                r.read()
                _raise_for(r)
            with path.open("wb") as fh:
                for chunk in r.iter_bytes():
                    fh.write(chunk)
        return path

    def to_xarray(self) -> Any:
        """The results as an ``xarray.Dataset`` (loaded into memory)."""
        try:
            import xarray as xr
            import zarr.storage
        except ImportError as exc:
            raise ImportError(
                "Sweep.to_xarray needs xarray and zarr: pip install 'patchwalk-client[xarray]'"
            ) from exc
        with tempfile.TemporaryDirectory(prefix="patchwalk-") as tmp:
            path = self.download(Path(tmp) / f"{self.id}.zarr.zip")
            store = zarr.storage.ZipStore(path, mode="r")
            try:
                ds = xr.open_zarr(store).load()
            finally:
                store.close()
        return ds
