"""Sweeps through ``patchwalk serve --cluster slurm`` on a local SLURM: jobs, start-up, throughput.

Needs a running SLURM (``sudo deploy/slurm/local-slurm.sh start``). For 1 and 2 worker jobs of
one core each it starts the service, submits the same sweep, and reports:

- time from submit to the first worker joining (sbatch + job start + Python/Dask start-up);
- throughput in tasks/s once the first worker has joined, and wall time;
- the 2-job/1-job throughput ratio (ideal 2.0 on two free cores).

    uv run --all-packages python benchmarks/bench_slurm.py [--tasks 24] [--tmax 300]

Prints one JSON object. The machine's load average is printed with it: on a shared machine
the ratio measures the CPUs the jobs actually got, not SLURM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CLI = [sys.executable, "-m", "patchwalk_client.cli"]
TOKEN = "bench-token"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_once(jobs: int, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """One sweep on ``jobs`` one-core worker jobs; timings in seconds."""
    port = _port()
    env = {**os.environ, "DASK_JOBQUEUE__SLURM__CORES": "1", "DASK_JOBQUEUE__SLURM__MEMORY": "1GB",
           "DASK_JOBQUEUE__SLURM__WALLTIME": "00:30:00",
           "DASK_JOBQUEUE__SLURM__NAME": f"pwbench-{jobs}", "PATCHWALK_TOKENS": TOKEN,
           "DASK_JOBQUEUE__SLURM__LOG_DIRECTORY": str(tmp / "joblogs"),
           "PATCHWALK_MAX_CPU_HOURS": "1e4", "PATCHWALK_SCALE_INTERVAL": "1"}
    log = (tmp / f"serve-{jobs}.log").open("wb")
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(tmp / f"data-{jobs}"),
         "--cluster", "slurm", "--interface", "lo", "--max-jobs", str(jobs),
         "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    try:
        for _ in range(600):
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        t0 = time.monotonic()
        sweep = http.post("/v1/sweeps", json=spec).json()["id"]
        first = None
        done_at_first = 0
        while True:
            st = http.get(f"/v1/sweeps/{sweep}").json()
            info = http.get("/v1/cluster").json()
            now = time.monotonic() - t0
            if first is None and info.get("workers", 0) >= 1:
                first, done_at_first = now, st["tasks_done"]
            if st["state"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.25)
        assert st["state"] == "done", st
        wall = time.monotonic() - t0
        first = first if first is not None else wall
        return {"jobs": jobs, "submit_to_first_worker_s": round(first, 2),
                "wall_s": round(wall, 2),
                "tasks_per_s": round((st["tasks_total"] - done_at_first) / (wall - first), 3),
                "jobs_submitted": info.get("jobs_submitted")}
    finally:
        http.close()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
        subprocess.run(["scancel", "-n", f"pwbench-{jobs}"], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=24, help="tasks in the sweep")
    ap.add_argument("--tmax", type=float, default=300.0, help="last output time (task length)")
    args = ap.parse_args()
    spec = {"name": "bench-slurm", "seed": 3,
            "medium": {"patches": [[1.0, 1.0], [1.0, 0.05], [0.5, 0.3]]},
            "particles": {"count": 2000 * args.tasks, "per_task": 2000},
            "times": {"min": 0.01, "max": args.tmax, "count": 8}}
    with tempfile.TemporaryDirectory(prefix="pwbench-") as d:
        runs = [run_once(jobs, spec, Path(d)) for jobs in (1, 2)]
    out = {"tasks": args.tasks, "tmax": args.tmax, "runs": runs,
           "ratio_2_over_1": round(runs[1]["tasks_per_s"] / runs[0]["tasks_per_s"], 3),
           "loadavg": os.getloadavg(), "cpus": os.cpu_count()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
