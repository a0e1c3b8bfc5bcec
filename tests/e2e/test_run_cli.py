"""`patchwalk run` / `patchwalk show` end to end, in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

SPEC = """
name = "cli-test"
seed = 21
[medium]
patches = [[1.0, 1.0], [1.0, 0.01]]
[particles]
count = 400
per_task = 200
[times]
min = 0.01
max = 5.0
count = 5
[sweep]
energy = [1.0, 2.0]
"""


def patchwalk(*args: str, timeout: float = 240,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "patchwalk_client.cli", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(SPEC)
    return p


def test_bad_spec_names_field_exit_2_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace("count = 400", "count = -4"))
    out = tmp_path / "out.zarr"
    r = patchwalk("run", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert "particles.count" in r.stderr
    assert not out.exists()


def test_settings_come_from_the_environment_and_options_override_them(
    tmp_path: Path, spec_file: Path
) -> None:
    out = tmp_path / "out.zarr"
    env = {"PATCHWALK_MAX_CPU_HOURS": "1e-9"}
    r = patchwalk("run", str(spec_file), "--out", str(out), env=env)
    assert r.returncode == 2 and "budget of 1e-09 CPU-hours" in r.stderr, r.stderr
    assert "PATCHWALK_MAX_CPU_HOURS" in r.stderr and not out.exists()
    r = patchwalk("run", str(spec_file), "--out", str(out), "--max-cpu-hours", "2e-9", env=env)
    assert r.returncode == 2 and "budget of 2e-09 CPU-hours" in r.stderr, r.stderr
    r = patchwalk("run", str(spec_file), "--out", str(out), env={"PATCHWALK_WORKERS": "0"})
    assert r.returncode == 2 and "PATCHWALK_WORKERS" in r.stderr and not out.exists()
    r = patchwalk("run", str(spec_file), "--out", str(out), "--workers", "0")
    assert r.returncode == 2 and "--workers 0" in r.stderr and not out.exists()


@pytest.mark.slow
def test_json_shape_show_and_mismatch(tmp_path: Path, spec_file: Path) -> None:
    out = tmp_path / "s.zarr"
    r = patchwalk("run", str(spec_file), "--out", str(out), "--workers", "1", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(doc["points"]) == 2
    pt = doc["points"][1]
    assert pt["params"] == {"energy": 2.0}
    assert set(pt) == {"params", "t", "kappa", "kappa_err", "kappa_err_source", "kappa_err_dof",
                       "kappa_err_particles", "kappa_err_between", "kappa_A",
                       "kappa_H", "kappa_A_ensemble", "kappa_H_ensemble", "n_particles",
                       "n_tasks"}
    assert len(pt["t"]) == len(pt["kappa"]) == len(pt["kappa_err"]) == 5
    assert pt["kappa_err_source"] == "particles" and pt["n_tasks"] == 2
    assert xr.open_zarr(out)["kappa"].dims == ("energy", "t")
    s = patchwalk("show", str(out), "--json")
    assert s.returncode == 0 and json.loads(s.stdout) == doc
    table = patchwalk("show", str(out))
    assert "kappa_A" in table.stdout and "4 of 4 tasks done" in table.stdout
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("seed = 21", "seed = 22"))
    m = patchwalk("run", str(other), "--out", str(out), "--workers", "1")
    assert m.returncode == 2 and "another spec" in m.stderr and "--out" in m.stderr
    assert json.loads(patchwalk("show", str(out), "--json").stdout) == doc


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path: Path) -> None:
    spec = tmp_path / "long.toml"
    spec.write_text(SPEC.replace("count = 400", "count = 4000").replace("max = 5.0", "max = 100.0"))
    out = tmp_path / "k.zarr"
    proc = subprocess.Popen([sys.executable, "-m", "patchwalk_client.cli", "run", str(spec),
                             "--out", str(out), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    done_dir = out / "tasks" / "done" / "c"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        n = sum(1 for _ in done_dir.rglob("*") if _.is_file()) if done_dir.exists() else 0
        if n >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its Dask worker processes
    proc.wait()
    # an incomplete store shows the partial results of its finished tasks, and says so
    part = patchwalk("show", str(out), "--json")
    finished = sum(1 for f in done_dir.rglob("*") if f.is_file())
    assert part.returncode == 1 and "partial results" in part.stderr, part.stderr
    assert sum(p["n_tasks"] for p in json.loads(part.stdout)["points"]) == finished
    r = patchwalk("run", str(spec), "--out", str(out), "--workers", "1", "--json")
    assert r.returncode == 0, r.stderr
    skipped = int(r.stderr.split("skipped ")[1].split()[0])
    assert 3 <= skipped < 40
    ref = tmp_path / "ref.zarr"
    r2 = patchwalk("run", str(spec), "--out", str(ref), "--workers", "1", "--json")
    assert r2.stdout == r.stdout
    a, b = xr.open_zarr(out), xr.open_zarr(ref)
    for name in ("kappa", "kappa_err", "kappa_A", "kappa_H"):
        assert a[name].values.tobytes() == b[name].values.tobytes()
    sa = np.asarray(xr.open_zarr(out, group="tasks")["sums"])
    sb = np.asarray(xr.open_zarr(ref, group="tasks")["sums"])
    assert sa.tobytes() == sb.tobytes()


def test_dry_run_writes_nothing_and_late_example_is_accepted(tmp_path: Path) -> None:
    late = tmp_path / "late.toml"
    text = (Path(__file__).parents[2] / "examples" / "example.toml").read_text()
    late.write_text(text.replace("count = 20000", "count = 2000").replace("max = 1e4", "max = 1e7"))
    out = tmp_path / "never.zarr"
    for var in [k for k in os.environ if k.startswith("PATCHWALK_")]:
        os.environ.pop(var)
    r = patchwalk("run", str(late), "--out", str(out), "--dry-run", "--json", "--workers", "2")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["accepted"] is True and info["budget_cpu_hours"] == 100.0
    assert info["tasks"] == 1 and info["workers"] == 2
    # the pilot's steps: README's late-time benchmark takes ~2e6 steps per particle to 1e7
    assert 1e9 < info["estimated_steps"] < 2e10
    assert info["estimated_wall_seconds"] >= info["estimated_cpu_hours"] * 3600 / 2
    assert not out.exists()
    text = patchwalk("run", str(late), "--dry-run", "--max-cpu-hours", "1e-3")
    assert text.returncode == 2 and "CPU-hours" in text.stdout + text.stderr
    assert "particle-steps" in text.stdout and "on " in text.stdout


TOL_SPEC = """
name = "tol"
seed = 4
[medium]
length = 400.0
high = { kappa = 1.0, patches = { pdf = "power_law", alpha = 2.5, l_min = 1.0, l_max = 20.0 } }
low = { kappa = 0.01, patches = { pdf = "same" } }
[particles]
count = 100
per_task = 50
target_rel_err = 0.1
max_count = 1500
[times]
min = 0.1
max = 300.0
count = 6
[sweep]
energy = [1.0, 4.0]
"""


@pytest.mark.slow
def test_run_to_tolerance_same_bits_on_1_and_2_workers_and_after_sigkill(tmp_path: Path) -> None:
    spec = tmp_path / "tol.toml"
    spec.write_text(TOL_SPEC)
    one, two, killed = tmp_path / "one.zarr", tmp_path / "two.zarr", tmp_path / "killed.zarr"
    r1 = patchwalk("run", str(spec), "--out", str(one), "--workers", "1", "--json")
    r2 = patchwalk("run", str(spec), "--out", str(two), "--workers", "2", "--json")
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    assert r1.stdout == r2.stdout
    points = json.loads(r1.stdout)["points"]
    for pt in points:
        assert pt["target_rel_err"] == 0.1 and pt["target_reached"] is True
        assert 2 < pt["n_tasks"] <= 30 and pt["n_particles"] == 50 * pt["n_tasks"]
        assert pt["limiting_time"] in pt["t"] and pt["rel_err"] < 0.1
    proc = subprocess.Popen([sys.executable, "-m", "patchwalk_client.cli", "run", str(spec),
                             "--out", str(killed), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    done_dir = killed / "tasks" / "done" / "c"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        n = sum(1 for _ in done_dir.rglob("*") if _.is_file()) if done_dir.exists() else 0
        if n >= 5:  # past the first batch of point 0
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    r3 = patchwalk("run", str(spec), "--out", str(killed), "--workers", "2", "--json")
    assert r3.returncode == 0, r3.stderr
    assert r3.stdout == r1.stdout
    assert (one / "results.json").read_bytes() == (killed / "results.json").read_bytes()
    a, b, c = xr.open_zarr(one), xr.open_zarr(two), xr.open_zarr(killed)
    for name in ("kappa", "kappa_err", "n_tasks", "steps"):
        assert a[name].values.tobytes() == b[name].values.tobytes() == c[name].values.tobytes()


#: What a finished store's answer must not import: the compute stack, the service's settings
#: and the HTTP client (each costs a noticeable part of a second at start-up).
HEAVY = ("numpy", "numba", "dask", "distributed", "zarr", "scipy", "httpx", "pydantic_settings",
         "patchwalk_worker", "uvicorn", "fastapi")


def imported(r: subprocess.CompletedProcess[str]) -> set[str]:
    """Top-level packages a ``python -X importtime`` run imported (from its stderr)."""
    return {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_finished_store_answers_without_the_compute_stack(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC.replace("count = 400", "count = 40").replace("per_task = 200",
                                                                       "per_task = 20"))
    out = tmp_path / "done.zarr"
    first = patchwalk("run", str(spec), "--out", str(out), "--workers", "1", "--json")
    assert first.returncode == 0, first.stderr
    assert "Port" not in first.stderr  # no dashboard unless asked
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # python -X importtime

    def traced(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "patchwalk_client.cli", *args],
                              capture_output=True, text=True, timeout=60, env=env)

    again = traced("run", str(spec), "--out", str(out), "--json")
    assert again.returncode == 0 and again.stdout == first.stdout
    assert "nothing to run" in again.stderr and "Port" not in again.stderr
    show = traced("show", str(out), "--json")
    assert show.returncode == 0 and json.loads(show.stdout) == json.loads(first.stdout)
    table = traced("show", str(out))
    assert table.returncode == 0 and "sweep 'cli-test'" in table.stdout
    assert "2 points, 4 of 4 tasks done" in table.stdout and "kappa_A" in table.stdout
    for r in (again, show, table):
        assert "pydantic" in imported(r)  # the trace works: the spec and results models
        assert not imported(r) & set(HEAVY), sorted(imported(r) & set(HEAVY))
    # the bench (benchmarks/bench_command.py) times these: ~0.5 s wall on an idle machine


def test_serve_on_a_busy_port_fails_before_starting_anything(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        r = patchwalk("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                      env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr and "--port" in r.stderr
    assert not (tmp_path / "d").exists()
    # refused before the cluster, the registry or the web server were even imported
    assert "pydantic" in imported(r)
    assert not imported(r) & {"dask", "distributed", "numba", "zarr", "uvicorn"}, imported(r)
    r = patchwalk("serve", "--workers", "0", "--port", str(port))
    assert r.returncode == 2 and "--workers 0" in r.stderr and "Traceback" not in r.stderr


def test_the_lean_parser_constants_agree_with_their_modules() -> None:
    """remote_cli names DEFAULT_URL and WHATS itself so that building the parser imports
    neither httpx (client) nor the result models (render)."""
    from patchwalk_client import client, remote_cli, render

    assert remote_cli.DEFAULT_URL == client.DEFAULT_URL
    assert remote_cli.WHATS == render.WHATS


def test_pilots_run_only_when_the_budget_could_bind(tmp_path: Path) -> None:
    from patchwalk_client.errors import SpecError
    from patchwalk_client.spec import parse_spec
    from patchwalk_client.sweep import expand_points
    from patchwalk_service.engine import plan_sweep
    from patchwalk_worker.cost import cost_bound

    spec = parse_spec(SPEC)
    out = tmp_path / "never.zarr"
    _, plan = plan_sweep(spec, out, max_cpu_hours=100.0, estimate=None)
    assert plan.estimated_cpu_seconds == 0.0 and plan.tasks_total == 4  # bound << budget
    bound = sum(cost_bound(p.spec) or 0.0 for p in expand_points(spec))
    _, plan = plan_sweep(spec, out, max_cpu_hours=bound / 3600 / 10, estimate=None)
    assert 0.0 < plan.estimated_cpu_seconds < bound / 10  # could bind: measured, accepted
    with pytest.raises(SpecError, match="budget"):
        plan_sweep(spec, out, max_cpu_hours=1e-9, estimate=None)
    assert not out.exists()
