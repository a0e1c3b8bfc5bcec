"""Five-minute tour through the client: submit, watch progress, read κ̄(t), plot, open in xarray.

    python examples/tour.py [SPEC] [--url URL]      # against a running `patchwalk serve`
    python examples/tour.py [SPEC] --serve          # start a service on loopback for the tour

Submits the spec (default examples/example.toml), follows its progress, prints κ̄(t) of each
point, saves the plot as tour.png and opens the results in xarray (if installed). With
``--serve`` it first starts ``patchwalk serve`` on a free 127.0.0.1 port (embedded Dask
LocalCluster, SQLite registry and zarr stores under ``--data-dir``) and stops it at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from patchwalk_client.client import Client


@contextlib.contextmanager
def local_service(data_dir: Path, startup_s: float = 120.0) -> Iterator[str]:
    """Run ``patchwalk serve`` on a free loopback port until the block ends; yield its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "patchwalk_client.cli", "serve", "--port", str(port),
           "--data-dir", str(data_dir), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"patchwalk serve exited with status {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"patchwalk serve did not become ready in {startup_s:.0f} s")
            time.sleep(0.3)
        print(f"service ready at {url} (data in {data_dir})")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tour(url: str | None, spec: Path) -> None:
    """Submit ``spec``, follow it to the end and show its results."""
    client = Client(url)
    sweep = client.submit(spec)
    print(f"sweep {sweep.id}: {'submitted' if sweep.created else 'already known'}")
    status = sweep.wait(progress=True)
    print(f"done: {status.tasks_done} tasks, {status.steps_done:.3g} particle-steps")

    for point in sweep.kappa()["points"]:
        print(
            f"point {point['params'] or '(no axes)'}: kappa_A = {point['kappa_A']:.4g}, "
            f"kappa_H = {point['kappa_H']:.4g}  (errors from the spread between "
            f"{point['kappa_err_source']})"
        )
        for t, k, e in list(zip(point["t"], point["kappa"], point["kappa_err"], strict=True))[::3]:
            print(f"   t = {t:<10.4g} kappa = {k:.4g} +- {e:.2g}")

    Path("tour.png").write_bytes(sweep.plot_png())
    print("plot saved to tour.png")
    try:
        ds = sweep.to_xarray()
    except ImportError as exc:
        print(exc)
        return
    print(ds)


def main() -> None:
    here = Path(__file__).parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=here / "example.toml")
    parser.add_argument("--url", default=None, help="service URL (default $PATCHWALK_URL)")
    parser.add_argument("--serve", action="store_true", help="start a local service for the tour")
    parser.add_argument("--data-dir", type=Path, default=Path("patchwalk-data"),
                        help="with --serve: registry and stores live here")
    args = parser.parse_args()
    if args.serve:
        with local_service(args.data_dir) as url:
            tour(url, args.spec)
    else:
        tour(args.url, args.spec)


if __name__ == "__main__":
    main()
