"""Result routes on the real store and kernels (in-process: thread runner, no Dask)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from patchwalk_service.app import create_app
from patchwalk_service.runners import ThreadRunner
from patchwalk_service.settings import ServiceSettings

SPEC: dict[str, Any] = {
    "name": "tiny",
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.1]]},
    "particles": {"count": 200, "per_task": 100},
    "times": {"min": 0.01, "max": 1.0, "count": 5},
    "escape": {"distances": [0.5]},
    "sweep": {"seed": [1, 2]},
}


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    settings = ServiceSettings(data_dir=tmp_path_factory.mktemp("svc"))
    app = create_app(settings, runner_factory=lambda s: ThreadRunner(2), start_scheduler=False)
    with TestClient(app) as c:
        r = c.post("/v1/sweeps", json=SPEC)
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        assert r.json()["tasks_total"] == 4 and r.json()["n_points"] == 2
        app.state.scheduler.run_until_idle(timeout=120)
        st = c.get(f"/v1/sweeps/{sid}").json()
        assert st["state"] == "done", st
        yield c, sid


def test_kappa_matches_the_store(done: tuple[TestClient, str]) -> None:
    from patchwalk_worker.store import SweepStore

    c, sid = done
    body = c.get(f"/v1/sweeps/{sid}/kappa").json()
    store = SweepStore.open(c.app.state.backend.store_path(sid))  # type: ignore[attr-defined]
    assert body == {"points": store.point_results()}
    assert [p["params"] for p in body["points"]] == [{"seed": 1}, {"seed": 2}]
    one = c.get(f"/v1/sweeps/{sid}/kappa?seed=2").json()["points"]
    assert one == [body["points"][1]]
    none = c.get(f"/v1/sweeps/{sid}/kappa?seed=3")  # a value the axis does not have
    assert none.status_code == 400 and "seed = 1, 2" in none.json()["detail"], none.text
    bad = c.get(f"/v1/sweeps/{sid}/kappa?energy=1")
    assert bad.status_code == 400 and "seed" in bad.json()["detail"]
    assert "?energy" not in bad.json()["detail"] and "?seed=" in bad.json()["detail"]
    # κ̄ lies between κ_H and κ_A of the medium (VALIDATION item 1), within the error bars
    for p in body["points"]:
        for k, e in zip(p["kappa"], p["kappa_err"], strict=True):
            assert p["kappa_H"] - 5 * e <= k <= p["kappa_A"] + 5 * e


def test_escape_plot_dataset_and_2d_refusal(done: tuple[TestClient, str]) -> None:
    c, sid = done
    esc = c.get(f"/v1/sweeps/{sid}/escape").json()["points"]
    assert esc[0]["distance"] == [0.5] and 0.0 <= esc[0]["fraction"][0] <= 1.0
    png = c.get(f"/v1/sweeps/{sid}/plot.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    r = c.get(f"/v1/sweeps/{sid}/kappa2d")
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem")
    ds = c.get(f"/v1/sweeps/{sid}/dataset")
    assert ds.status_code == 200 and ds.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(ds.content)).namelist()
    assert "zarr.json" in names and any(n.startswith("tasks/") for n in names)


def test_dataset_opens_in_xarray(done: tuple[TestClient, str], tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    import zarr.storage

    c, sid = done
    path = tmp_path / "d.zip"
    path.write_bytes(c.get(f"/v1/sweeps/{sid}/dataset").content)
    store = zarr.storage.ZipStore(path, mode="r")
    ds = xr.open_zarr(store).load()
    store.close()
    kappa = c.get(f"/v1/sweeps/{sid}/kappa").json()["points"]
    assert ds["kappa"].dims == ("seed", "t")
    assert ds["kappa"].values[1].tolist() == kappa[1]["kappa"]


def test_theory_route(done: tuple[TestClient, str]) -> None:
    pytest.importorskip("patchwalk_worker.theory")
    c, sid = done
    pts = c.get(f"/v1/sweeps/{sid}/theory").json()["points"]
    assert len(pts) == 2 and pts[0]["curves"]


def test_invalid_real_spec_names_the_field(done: tuple[TestClient, str]) -> None:
    c, _ = done
    bad = {**SPEC, "medium": {"patches": [[1.0, -1.0]]}}
    r = c.post("/v1/sweeps", json=bad)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert any("medium" in e["loc"] for e in r.json()["errors"])
    r = c.post("/v1/sweeps", json={**SPEC, "particles": {"count": 10**15, "per_task": 10**11}})
    assert r.status_code == 422 and "budget" in r.json()["detail"], r.text


def test_stop_sweep_serves_escape_only(done: tuple[TestClient, str], tmp_path: Path) -> None:
    """``escape.stop``: /escape answers with ⟨1/τ⟩ and its bounds; /kappa, /kappa2d, /theory
    and the plot answer 409 naming escape.stop; ``patchwalk show`` prints escape and refuses
    --what kappa the same way."""
    import subprocess
    import sys

    c, _ = done
    spec = {**SPEC, "name": "tiny-stop", "escape": {"distances": [0.5], "stop": True}}
    r = c.post("/v1/sweeps", json=spec)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    c.app.state.scheduler.run_until_idle(timeout=120)  # type: ignore[attr-defined]
    assert c.get(f"/v1/sweeps/{sid}").json()["state"] == "done"
    pts = c.get(f"/v1/sweeps/{sid}/escape").json()["points"]
    assert len(pts) == 2
    for p in pts:
        assert p["mean_rate"][0] <= p["mean_rate_upper"][0] and p["mean_rate_err"][0] > 0
    for route in ("kappa", "kappa2d", "theory", "plot.png"):
        res = c.get(f"/v1/sweeps/{sid}/{route}")
        assert res.status_code == 409, (route, res.text)
        assert "escape.stop" in res.json()["detail"]
    store = c.app.state.backend.store_path(sid)  # type: ignore[attr-defined]
    cmd = [sys.executable, "-m", "patchwalk_client.cli", "show", str(store)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "<1/tau>" in out.stdout and "kappa" not in out.stdout.split("\n", 1)[1]
    bad = subprocess.run([*cmd, "--what", "kappa"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "escape.stop" in bad.stderr
