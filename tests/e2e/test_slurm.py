"""Sweeps on a real single-node SLURM through dask-jobqueue (marker ``slurm``).

The session fixture starts SLURM with ``deploy/slurm/local-slurm.sh start`` when it is not
running and the tests run as root with apt-get (or SLURM already installed); otherwise the
tests are skipped with the reason shown in pytest's summary — and with ``CI=true`` they fail
instead, since CI must run them. ``PATCHWALK_TEST_SLURM=0`` opts out.

Each test starts a real ``patchwalk serve --cluster slurm`` (worker jobs of one core; Dask's
jobqueue configuration from ``DASK_JOBQUEUE__SLURM__*``, as a user would set it) and checks the
result against ``patchwalk run`` on an embedded LocalCluster, bit for bit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_service import wait_ready
from patchwalk_client.client import Client

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "slurm" / "local-slurm.sh"
SBATCH = ROOT / "deploy" / "slurm" / "patchwalk-service.sbatch"
CLI = [sys.executable, "-m", "patchwalk_client.cli"]
TOKEN = "slurm-test-token"

#: 24 tasks of ~0.6 s (2 points x 12): long enough to scancel a job mid-sweep.
SPEC_B: dict[str, Any] = {
    "name": "slurm-b",
    "seed": 21,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 24000, "per_task": 2000},
    "times": {"min": 0.01, "max": 150.0, "count": 8},
    "sweep": {"seed": [21, 22]},
}
#: Tasks of ~3 s; the walltime test sizes the count to outlive a worker of a one-minute job.
SPEC_A: dict[str, Any] = {
    "name": "slurm-a",
    "seed": 5,
    "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
    "particles": {"count": 4000, "per_task": 2000},
    "times": {"min": 0.01, "max": 1000.0, "count": 8},
}
FIGURES: dict[str, Any] = {}


# ---- SLURM -------------------------------------------------------------------------------------
def _slurm_up() -> bool:
    r = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True, check=False)
    return r.returncode == 0


@pytest.fixture(scope="session")
def slurm() -> Iterator[None]:
    """A usable single-node SLURM, started here when possible (and stopped again)."""
    ci = os.environ.get("CI", "").lower() == "true"

    def unavailable(reason: str) -> None:
        msg = f"SLURM tests not run: {reason}"
        print(msg, file=sys.stderr)
        if ci:
            pytest.fail(f"{msg} (CI=true: the slurm tests must run)")
        pytest.skip(msg)

    if os.environ.get("PATCHWALK_TEST_SLURM") == "0":
        unavailable("PATCHWALK_TEST_SLURM=0")
    started = False
    if not _slurm_up():
        if os.geteuid() != 0:
            unavailable("SLURM is not running and starting it needs root "
                        "(sudo deploy/slurm/local-slurm.sh start)")
        if not (shutil.which("apt-get") or shutil.which("slurmctld")):
            unavailable("SLURM is not running and there is no apt-get to install slurm-wlm")
        r = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True,
                           timeout=900, check=False)
        if r.returncode != 0:
            unavailable(f"deploy/slurm/local-slurm.sh start failed:\n{r.stderr[-3000:]}")
        started = True
    yield
    if FIGURES:
        print("\nSLURM figures: " + json.dumps(FIGURES, indent=1), file=sys.stderr)
    if started:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, check=False)


def _jobs(name: str) -> list[tuple[str, str]]:
    """(job id, state) of this user's jobs named ``name``."""
    r = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True,
                       text=True, check=True)
    return [tuple(line.split()) for line in r.stdout.splitlines() if line.strip()]  # type: ignore[misc]


# ---- the service -------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slurm_env(tmp: Path, name: str, walltime: str = "00:10:00") -> dict[str, str]:
    """Dask's jobqueue configuration a user would set, and quick scaling for the tests."""
    return {
        **os.environ,
        "DASK_JOBQUEUE__SLURM__CORES": "1",
        "DASK_JOBQUEUE__SLURM__MEMORY": "1GB",
        "DASK_JOBQUEUE__SLURM__WALLTIME": walltime,
        "DASK_JOBQUEUE__SLURM__NAME": name,
        "DASK_JOBQUEUE__SLURM__LOG_DIRECTORY": str(tmp / "joblogs"),
        # a job whose worker left is resubmitted after this (Dask's default: 15 s)
        "DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "2s",
        "PATCHWALK_IDLE_RELEASE": "10",
        "PATCHWALK_SCALE_INTERVAL": "1",
        "PATCHWALK_MAX_CPU_HOURS": "1000",
        "PATCHWALK_TOKENS": TOKEN,
    }


class SlurmService:
    """``patchwalk serve --cluster slurm`` in its own process group."""

    def __init__(self, tmp: Path, name: str, *, walltime: str = "00:10:00",
                 max_jobs: int = 2) -> None:
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "data"
        self.log = (tmp / f"serve-{name}.log").open("wb")
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port), "--data-dir", str(self.data),
             "--cluster", "slurm", "--interface", "lo", "--max-jobs", str(max_jobs),
             "--log-level", "warning"],
            env=slurm_env(tmp, name, walltime), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client = Client(self.url, token=TOKEN, timeout=30)
        if wait_ready(self.proc, self.url, 120, self.tail):
            return
        self.stop()
        raise AssertionError("service not ready after 120 s\n" + self.tail())

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def cluster(self) -> dict[str, Any]:
        info: dict[str, Any] = self.client.request("GET", "/v1/cluster").json()
        return info

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.client.close()
        self.log.close()
        subprocess.run(["scancel", "-n", self.name], check=False)


class Reference:
    """``patchwalk run SPEC --json --workers 2`` (a LocalCluster) started now, read on demand.

    It runs while the SLURM sweep runs: the machine's two cores are shared either way, and the
    wall time of the test is the longer of the two rather than their sum.
    """

    def __init__(self, spec: dict[str, Any], tmp: Path) -> None:
        path = tmp / f"{spec['name']}-ref.json"
        path.write_text(json.dumps(spec))
        self.out = (tmp / f"{spec['name']}-ref.out").open("w+")
        self.proc = subprocess.Popen([*CLI, "run", str(path), "--json", "--workers", "2"],
                                     stdout=self.out, stderr=subprocess.PIPE, text=True)
        self._result: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        if self._result is None:
            _, err = self.proc.communicate(timeout=600)
            assert self.proc.returncode == 0, err[-2000:]
            self.out.seek(0)
            self._result = json.loads(self.out.read())
            self.out.close()
        return self._result

    def close(self) -> None:
        """Stop it if still running (a failed test must not leave it behind)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def ref_b(slurm: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    ref = Reference(SPEC_B, tmp_path_factory.mktemp("ref"))
    yield ref
    ref.close()


def _watch(svc: SlurmService, sweep_id: str, timeout: float,
           on_sample: Any = None) -> list[dict[str, Any]]:
    """Poll status and cluster until the sweep finishes; the samples taken."""
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        st = svc.client.get(sweep_id).status()
        info = svc.cluster()
        sample = {"t": time.monotonic() - t0, "state": st.state, "done": st.tasks_done,
                  "squeue": _jobs(svc.name), **info}
        samples.append(sample)
        if on_sample is not None:
            on_sample(sample)
        if st.finished:
            return samples
        time.sleep(0.5)
    raise AssertionError(f"sweep not finished after {timeout} s\n{samples[-3:]}\n{svc.tail()}")


# ---- the tests ---------------------------------------------------------------------------------
def test_serve_slurm_end_to_end(ref_b: Reference, tmp_path: Path) -> None:
    svc = SlurmService(tmp_path, "pwtest-e2e")
    try:
        assert httpx.get(f"{svc.url}/v1/cluster").status_code == 401  # token-protected
        info = svc.cluster()
        assert info["kind"] == "slurm" and info["address"].startswith("tls://127.0.0.1:")
        cmd = subprocess.run([*CLI, "cluster", "--url", svc.url, "--token", TOKEN, "--json"],
                             capture_output=True, text=True, check=True)
        assert json.loads(cmd.stdout)["address"] == info["address"]
        t_submit = time.monotonic()
        sweep = svc.client.submit(SPEC_B)
        first_worker: list[float] = []

        def seen(s: dict[str, Any]) -> None:
            if s.get("workers", 0) >= 1 and not first_worker:
                first_worker.append(time.monotonic() - t_submit)

        samples = _watch(svc, sweep.id, 240, seen)
        assert samples[-1]["state"] == "done", svc.tail()
        before = svc.cluster()
        # a second sweep right after the first reuses the jobs (no release in between; a job
        # resubmitted because its worker died under load would count as replaced, not new)
        small = {**SPEC_B, "name": "slurm-b2", "particles": {"count": 4000, "per_task": 2000}}
        s2 = svc.client.submit(small)
        assert s2.wait(progress=False, timeout=120).state == "done"
        after = svc.cluster()
        assert after["releases"] == 0, after
        assert (after["jobs_submitted"] - after["jobs_replaced"]
                == before["jobs_submitted"] - before["jobs_replaced"]), (before, after)
        assert sweep.kappa() == ref_b()  # bit for bit
        # worker jobs were SLURM jobs, at most --max-jobs of them at once
        assert max(len(s["squeue"]) for s in samples) in (1, 2)
        # dask-jobqueue #701: once a worker joined, the sweep never lost all of them
        started = [s for s in samples if first_worker and s["t"] >= first_worker[0] + 1]
        assert all(s["workers"] >= 1 for s in started if s["state"] == "running"), started
        # ... and the jobs go once the queue stays empty (PATCHWALK_IDLE_RELEASE=10 s)
        deadline = time.monotonic() + 60
        while _jobs(svc.name) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _jobs(svc.name), "worker jobs not released after the queue emptied"
        FIGURES["submit_to_first_worker_s"] = round(first_worker[0], 1)
        FIGURES["sweep_b_wall_s_2_jobs"] = round(samples[-1]["t"], 1)
    finally:
        svc.stop()


def test_scancel_worker_job_mid_sweep(ref_b: Reference, tmp_path: Path) -> None:
    svc = SlurmService(tmp_path, "pwtest-scancel")
    try:
        sweep = svc.client.submit(SPEC_B)
        killed: list[str] = []

        def kill_one(s: dict[str, Any]) -> None:
            running = [j for j, state in s["squeue"] if state == "RUNNING"]
            if not killed and s["done"] >= 2 and s.get("workers", 0) >= 2 and running:
                subprocess.run(["scancel", running[0]], check=True)
                killed.append(running[0])

        samples = _watch(svc, sweep.id, 300, kill_one)
        assert killed, "the sweep ended before a job could be cancelled"
        assert samples[-1]["state"] == "done", svc.tail()
        assert sweep.kappa() == ref_b()
        info = svc.cluster()
        assert info["workers_lost"] + info["workers_retired"] >= 1
        assert info["tasks_recomputed"] >= 1  # the cancelled job's task ran again elsewhere
        # ... and only what it was executing (one core per job)
        assert all(r["running"] <= 1 for r in info["removals"]), info["removals"]
        assert info["tasks_recomputed"] <= len(info["removals"])
        # task keys carry the first 12 digits of the sweep id (scheduler.task_key)
        assert info["tasks_recomputed_by_sweep"].get(sweep.id[:12]) == info["tasks_recomputed"]
        assert info["jobs_replaced"] >= 1
        FIGURES["scancel"] = {k: info[k] for k in ("workers_lost", "workers_retired",
                                                   "tasks_recomputed", "results_lost",
                                                   "jobs_replaced", "removals")}
    finally:
        svc.stop()


def _sized_for(seconds: float, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with as many tasks as one worker of this machine computes in ``seconds``."""
    from patchwalk_client.spec import load_spec
    from patchwalk_worker.task import run_task

    one = load_spec(spec)
    run_task(one, 0, 0)  # compile (or load the numba cache)
    t0 = time.perf_counter()
    run_task(one, 0, 1)
    per_task = time.perf_counter() - t0
    n = min(120, max(16, round(seconds / per_task)))
    return {**spec, "particles": {"count": n * 2000, "per_task": 2000}}


def test_walltime_shorter_than_the_sweep(tmp_path: Path, slurm: None) -> None:
    # one job at a time, walltime 1 min -> worker lifetime 42 s +- 3 s; ~60 s of work
    spec = _sized_for(60.0, SPEC_A)
    n_tasks = spec["particles"]["count"] // 2000
    ref_a = Reference(spec, tmp_path)  # computed while the SLURM sweep runs
    svc = SlurmService(tmp_path, "pwtest-walltime", walltime="00:01:00", max_jobs=1)
    try:
        sweep = svc.client.submit(spec)
        samples = _watch(svc, sweep.id, 330)
        assert samples[-1]["state"] == "done", svc.tail()
        assert sweep.kappa() == ref_a()
        info = svc.cluster()
        print(f"walltime test: {n_tasks} tasks, cluster {info}", file=sys.stderr)
        # a lone worker cannot hand its data over, so Dask may see its exit as unexpected
        assert info["workers_retired"] + info["workers_lost"] >= 1, info
        assert info["jobs_replaced"] >= 1, info
        # only the tasks a leaving worker was executing run again: one core per job
        assert info["tasks_recomputed"] <= info["workers_retired"] + info["workers_lost"]
        FIGURES["walltime_1min"] = {k: info[k] for k in (
            "workers_retired", "workers_lost", "tasks_recomputed", "results_lost",
            "jobs_submitted", "jobs_replaced")}
        FIGURES["walltime_1min"] |= {"wall_s": round(samples[-1]["t"], 1), "tasks": n_tasks}
    finally:
        svc.stop()
        ref_a.close()


def test_service_inside_an_sbatch_job(tmp_path: Path, slurm: None) -> None:
    data = tmp_path / "svcdata"
    env = {**slurm_env(tmp_path, "pwtest-svcworker"), "PATCHWALK_DATA_DIR": str(data),
           "PATCHWALK": str(Path(sys.executable).parent / "patchwalk"),
           "PATCHWALK_INTERFACE": "lo"}
    r = subprocess.run(["sbatch", "--parsable", "--job-name", "pwtest-service", "--time", "10",
                        "--output", str(tmp_path / "service-%j.out"), str(SBATCH)],
                       env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    job = r.stdout.strip().split(";")[0]
    out = tmp_path / f"service-{job}.out"
    try:
        deadline = time.monotonic() + 120
        url = None
        while time.monotonic() < deadline and url is None:
            env_file = data / "service.env"
            if env_file.exists() and "PATCHWALK_URL=" in env_file.read_text():
                url = env_file.read_text().split("=", 1)[1].strip()
            time.sleep(0.5)
        assert url, out.read_text() if out.exists() else "no job output"
        assert oct((data / "service.env").stat().st_mode & 0o777) == "0o600"
        with Client(url, token=TOKEN, timeout=30) as c:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if c.request("GET", "/readyz").status_code == 200:
                        break
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.5)
            small = {**SPEC_B, "name": "in-job", "particles": {"count": 4000, "per_task": 2000}}
            sweep = c.submit(small)
            assert sweep.wait(progress=False, timeout=180).state == "done"
            info = c.request("GET", "/v1/cluster").json()
            assert info["kind"] == "slurm" and info["jobs_submitted"] >= 1
        text = out.read_text()
        assert f"job {job}" in text and "PATCHWALK_URL=http://" in text and "scancel" in text
    finally:
        subprocess.run(["scancel", job], check=False)
        deadline = time.monotonic() + 60
        while (_jobs("pwtest-service") or _jobs("pwtest-svcworker")) \
                and time.monotonic() < deadline:
            time.sleep(0.5)
    assert not _jobs("pwtest-svcworker"), "the service left worker jobs behind"
