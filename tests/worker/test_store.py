"""The sweep store: layout, what is done, refusal of another spec, xarray summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from patchwalk_client.spec import load_spec
from patchwalk_worker.execute import execute_task
from patchwalk_worker.store import StoreError, SweepStore
from patchwalk_worker.task import TaskResult, task_particles


def spec_dict(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "store-test",
        "seed": 2,
        "medium": {"patches": [[1.0, 1.0], [1.0, 0.1]]},
        "particles": {"count": 30, "per_task": 10},
        "times": {"min": 0.1, "max": 10.0, "count": 4},
        "escape": {"distances": [1.0, 2.0]},
        "sweep": {"energy": [1.0, 2.0, 4.0],
                  "zip": [{"exact.safety": [8.0, 10.0], "medium.beta_perp": [0.0, 0.5]}]},
    }
    data.update(over)
    return data


def fake_runner(spec: Any, point: int, task: int) -> TaskResult:
    """Deterministic synthetic sums: msd = 2 κ t with κ depending on (point, task)."""
    t = np.asarray(spec.output_times())
    n = task_particles(spec, task)
    kap = 1.0 + 0.1 * point + 0.01 * task
    sums = np.zeros((t.size, 5))
    sums[:, 0] = n
    sums[:, 2] = n * 2 * kap * t
    sums[:, 3] = n * 3 * (2 * kap * t) ** 2
    sums[:, 4] = n * 2 * 0.5 * t
    esc = np.array([[n, n * 1.0, n * 1.5], [n / 2, n / 2 * 4.0, n / 2 * 20.0]])
    return TaskResult(sums=sums, esc=esc, kappa_A=kap, kappa_H=kap / 2, steps=100 * n)


def fill(path: Path) -> SweepStore:
    store = SweepStore.create_or_open(path, load_spec(spec_dict()))
    for p, k in store.pending():
        execute_task(str(path), p, k, runner=fake_runner)
    return store


def test_layout_pending_and_done(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    store = SweepStore.create_or_open(path, load_spec(spec_dict()))
    # 6 points: energy (3) x zip (2), 3 tasks each
    assert store.n_tasks == [3] * 6
    assert store.total() == 18 and store.done_count() == 0
    pend = store.pending()
    assert pend == sorted(pend) and len(pend) == 18
    attrs = dict(store.group.attrs)
    assert attrs["spec_hash"] == store.spec_hash and attrs["seed"] == 2
    assert load_spec(attrs["spec"]) == store.spec
    assert {"numpy", "zarr", "numba", "patchwalk_worker"} <= set(attrs["versions"])
    assert [a[0] for a in attrs["axes"]] == ["energy", "exact.safety"]
    out = execute_task(str(path), 1, 1, runner=fake_runner)
    assert out["steps"] == 1000 and not out["skipped"]
    again = execute_task(str(path), 1, 1, runner=fake_runner)
    assert again["skipped"]
    reopened = SweepStore.create_or_open(path, load_spec(spec_dict()))
    assert reopened.done_count() == 1 and (1, 1) not in reopened.pending()
    # the done chunk is the only marker: a task region without it counts as absent
    assert (path / "tasks" / "done" / "c" / "1" / "1").exists()
    assert not (path / "tasks" / "done" / "c" / "0" / "0").exists()


def test_refuses_other_spec_and_foreign_dirs(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    store = SweepStore.create_or_open(path, load_spec(spec_dict()))
    other = load_spec(spec_dict(seed=3))
    with pytest.raises(StoreError) as err:
        SweepStore.create_or_open(path, other)
    msg = str(err.value)
    assert store.spec_hash in msg and "--out" in msg
    from patchwalk_client.spec import spec_hash

    assert spec_hash(other) in msg
    assert SweepStore.open(path).spec_hash == store.spec_hash  # untouched
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "file.txt").write_text("keep me")
    with pytest.raises(StoreError, match="not a patchwalk store"):
        SweepStore.create_or_open(junk, load_spec(spec_dict()))
    assert (junk / "file.txt").read_text() == "keep me"


def test_summaries_open_with_xarray(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    store = fill(path)
    with pytest.raises(StoreError, match="tasks done"):
        SweepStore.create_or_open(tmp_path / "x.zarr", load_spec(spec_dict())).write_summaries()
    store.write_summaries()
    ds = xr.open_zarr(path)
    assert ds["kappa"].dims == ("energy", "exact.safety", "t")
    assert ds["kappa"].shape == (3, 2, 4)
    assert list(ds["energy"].values) == [1.0, 2.0, 4.0]
    assert ds["medium.beta_perp"].dims == ("exact.safety",)
    assert list(ds["medium.beta_perp"].values) == [0.0, 0.5]
    np.testing.assert_allclose(ds["t"], np.geomspace(0.1, 10.0, 4))
    # point (energy=2, safety=10) is point 3: κ = 1.3 + 0.01·k, equal weights
    np.testing.assert_allclose(ds["kappa"].sel(energy=2.0).isel({"exact.safety": 1}), 1.31)
    assert ds["kappa_A"].dims == ("energy", "exact.safety")
    assert ds.attrs["kappa_err_source"] == "particles"
    assert ds["escape_rate"].dims == ("energy", "exact.safety", "escape_distance")
    np.testing.assert_allclose(ds["escape_rate"].values[..., 0], 1.0)
    np.testing.assert_allclose(ds["escape_fraction"].values[..., 1], 0.5)
    assert int(ds["n_tasks"].sum()) == 18 and int(ds["steps"].sum()) == 100 * 6 * 30
    assert "kappa_2d" not in ds
    tasks = xr.open_zarr(path, group="tasks")
    assert tasks["sums"].dims == ("point", "task", "t", "moment")
    res = store.point_results()
    assert len(res) == 6 and res[3]["params"] == {"energy": 2.0, "exact.safety": 10.0,
                                                  "medium.beta_perp": 0.5}
    json.dumps(res, allow_nan=False)


def test_2d_summaries_and_shared_times(tmp_path: Path) -> None:
    path = tmp_path / "s2.zarr"
    spec = load_spec(spec_dict(dimensions=2, medium={"patches": [[1.0, 1.0], [1.0, 0.1]],
                                                     "kappa_perp": 0.5, "l_perp": 1.0},
                               sweep={"energy": [1.0, 2.0]}))
    store = SweepStore.create_or_open(path, spec)
    for p, k in store.pending():
        execute_task(str(path), p, k, runner=fake_runner)
    store.write_summaries()
    ds = xr.open_zarr(path)
    assert ds["t"].dims == ("t",) and ds["kappa"].dims == ("energy", "t")
    np.testing.assert_allclose(ds["kappa_y"], 0.5)
    for name in ("kappa_2d", "kappa_2d_err", "kappa_2d_converged"):
        assert ds[name].dims == ("energy",)
    assert bool(ds["kappa_2d_converged"].all())
    np.testing.assert_allclose(ds["kappa_2d"].values, [1.01, 1.11])
    assert store.point_results()[0]["kappa_perp"] == 0.5


def test_another_build_reads_a_finished_store_but_neither_resumes_nor_joins_one(
        tmp_path: Path) -> None:
    """A store records the build that started it (patchwalk_worker.build): tasks of another
    build would mix two versions of the kernels in one result."""
    from patchwalk_worker.build import build_id

    spec = load_spec(spec_dict())
    other_build = "0123456789abcdef"
    part = tmp_path / "part.zarr"
    store = SweepStore.create_or_open(part, spec)
    execute_task(str(part), 0, 0, runner=fake_runner)
    assert store.group.attrs["build"] == build_id() != other_build
    assert SweepStore.create_or_open(part, spec).done_count() == 1  # the same build resumes
    store.group.attrs["build"] = other_build
    with pytest.raises(StoreError, match=f"another build of patchwalk.*{other_build}"):
        SweepStore.create_or_open(part, spec)
    # a worker of another build (say, an old install on a cluster node) writes nothing
    joined = tmp_path / "joined.zarr"
    fresh = SweepStore.create_or_open(joined, spec)
    fresh.group.attrs["build"] = other_build
    with pytest.raises(StoreError, match="cannot be joined"):
        execute_task(str(joined), 0, 0, runner=fake_runner)
    assert SweepStore.open(joined).done_count() == 0
    # a finished store is complete and its own: any build reads it
    done = fill(tmp_path / "done.zarr")
    done.group.attrs["build"] = other_build
    assert SweepStore.create_or_open(tmp_path / "done.zarr", spec).done_count() == done.total()
