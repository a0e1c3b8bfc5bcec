"""`patchwalk run`'s driver (the scheduler running one sweep in-process): completion, resume,
refusal, cancellation, bit-identical results."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from patchwalk_client.spec import SpecError, load_spec
from patchwalk_service.engine import run_sweep
from patchwalk_service.scheduler import task_key
from patchwalk_service.settings import ServiceSettings
from patchwalk_worker.execute import execute_task
from patchwalk_worker.store import StoreError, SweepStore


def spec_dict(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "engine-test",
        "seed": 11,
        "medium": {"patches": [[1.0, 1.0], [1.0, 0.01]]},
        "particles": {"count": 600, "per_task": 200},
        "times": {"min": 0.01, "max": 5.0, "count": 6},
        "sweep": {"energy": [1.0, 3.0]},
    }
    data.update(over)
    return data


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def arrays(path: Path) -> dict[str, bytes]:
    """Bytes of the per-task sums and of every summary array."""
    store = SweepStore.open(path)
    out = {f"tasks/{n}": np.asarray(store.group[f"tasks/{n}"][...]).tobytes()
           for n in ("sums", "esc", "realisation", "steps", "done")}
    ds = xr.open_zarr(path)
    out.update({name: ds[name].values.tobytes() for name in ds.data_vars})
    return out


def test_run_resume_and_summaries(tmp_path: Path, client: Client) -> None:
    spec = load_spec(spec_dict())
    path = tmp_path / "a.zarr"
    rep = run_sweep(spec, path, client, max_in_flight=2)
    assert (rep.total, rep.skipped, rep.computed) == (6, 0, 6)
    assert rep.steps > 0 and not rep.cancelled
    ds = xr.open_zarr(path)
    assert ds["kappa"].dims == ("energy", "t")
    # κ̄(t) lies between κ_H and κ_A of the medium (VALIDATION item 1), energy scales nothing
    kA, kH = 0.505, 2 / (1 + 100)
    assert float(ds["kappa"].max()) < kA * 1.1 and float(ds["kappa"].min()) > kH * 0.9
    again = run_sweep(spec, path, client)
    assert (again.total, again.skipped, again.computed) == (6, 6, 0)


def test_shuffled_order_is_bit_identical(tmp_path: Path, client: Client) -> None:
    spec = load_spec(spec_dict())
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    run_sweep(spec, a, client, max_in_flight=1)
    store = SweepStore.create_or_open(b, spec)
    order = store.pending()
    random.Random(4).shuffle(order)
    for p, k in order:
        execute_task(str(b), p, k)
    store.write_summaries()
    assert arrays(a) == arrays(b)


def test_infeasible_spec_is_refused_before_any_write(tmp_path: Path, client: Client) -> None:
    spec = load_spec(spec_dict(kernel="euler", times={"min": 1.0, "max": 1e9, "count": 3}))
    path = tmp_path / "never.zarr"
    with pytest.raises(SpecError) as err:
        run_sweep(spec, path, client)
    assert err.value.errors and not path.exists()


def test_other_spec_store_is_refused(tmp_path: Path, client: Client) -> None:
    path = tmp_path / "a.zarr"
    SweepStore.create_or_open(path, load_spec(spec_dict()))
    with pytest.raises(StoreError, match="another spec"):
        run_sweep(load_spec(spec_dict(seed=12)), path, client)


def test_cancel_then_resume(tmp_path: Path, client: Client) -> None:
    spec = load_spec(spec_dict())
    path = tmp_path / "c.zarr"
    stop = threading.Event()
    stop.set()
    rep = run_sweep(spec, path, client, max_in_flight=1, cancel=stop)
    assert rep.cancelled and 1 <= rep.computed < 6
    store = SweepStore.open(path)
    assert not store.complete() and not store.has_summaries()
    rep2 = run_sweep(spec, path, client)
    assert rep2.skipped >= 1 and rep2.skipped + rep2.computed == 6
    ref = tmp_path / "ref.zarr"
    run_sweep(spec, ref, client)
    assert arrays(path) == arrays(ref)


def test_task_keys_are_deterministic() -> None:
    assert task_key("abcdef0123456789", 3, 4) == "pw-abcdef012345-3-4"


@pytest.mark.slow
def test_one_and_two_worker_processes_give_identical_bytes(tmp_path: Path) -> None:
    from patchwalk_service.cluster import open_cluster

    spec = load_spec(spec_dict())
    for n in (1, 2):
        with open_cluster(ServiceSettings(workers=n)) as session:
            c = session.client
            run_sweep(spec, tmp_path / f"w{n}.zarr", c)
    assert arrays(tmp_path / "w1.zarr") == arrays(tmp_path / "w2.zarr")


@pytest.mark.slow
def test_worker_killed_mid_task(tmp_path: Path, client: Client) -> None:
    from patchwalk_service.cluster import open_cluster

    # tasks of ~0.5-1 s so that a kill lands inside one
    spec = load_spec(spec_dict(particles={"count": 3000, "per_task": 500},
                               times={"min": 0.01, "max": 200.0, "count": 6}))
    ref = tmp_path / "ref.zarr"
    run_sweep(spec, ref, client)
    path = tmp_path / "killed.zarr"
    with open_cluster(ServiceSettings(workers=2)) as session:
        c = session.client
        pids: dict[str, int] = c.run(os.getpid)
        box: dict[str, Any] = {}
        th = threading.Thread(target=lambda: box.update(rep=run_sweep(spec, path, c)))
        th.start()
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            busy = [w for w, tasks in c.processing().items() if tasks]
            if busy:
                time.sleep(0.3)  # be inside the task
                victim = pids.get(busy[0])
            else:
                time.sleep(0.05)
        assert victim is not None, "no worker ever ran a task"
        os.kill(victim, signal.SIGKILL)
        th.join(timeout=240)
        assert not th.is_alive()
    assert box["rep"].computed + box["rep"].skipped == 12
    assert arrays(path) == arrays(ref)


def test_axes_out_of_alphabetical_order_keep_their_order(tmp_path: Path, client: Client) -> None:
    from patchwalk_client.spec import spec_hash

    spec = load_spec(spec_dict(sweep={"seed": [3, 4], "energy": [1.0, 3.0]},
                               particles={"count": 200, "per_task": 200}))
    rep = run_sweep(spec, tmp_path / "o.zarr", client)
    assert rep.computed == 4 and rep.error is None
    store = SweepStore.open(tmp_path / "o.zarr")
    assert store.spec_hash == spec_hash(spec)
    assert [p.params for p in store.points][:2] == [{"seed": 3, "energy": 1.0},
                                                   {"seed": 3, "energy": 3.0}]
