"""``patchwalk gallery [NAME] [--quick] [--out DIR] [--url URL]``: the paper's figures, re-run.

Each gallery entry is a spec in ``examples/gallery/`` (parameters from the paper's captions;
choices it leaves open are stated in the spec's comments) plus, for ``--quick``, the reduced
runs the tests use. The command runs every spec through the REST service and the client as a
user would — a real ``patchwalk serve`` started on loopback with a fresh bearer token (or the
service at ``--url``) — and writes ``DIR/<name>.png`` with the paper's overlays and
``DIR/<name>.json``, the quantitative checks (:mod:`patchwalk_service.gallery_figures`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - imported when a figure is made (numpy, numba)
    from .gallery_figures import Figure, Run


def figures() -> dict[str, Figure]:
    """Figure builders by gallery name (imported on use: they need numpy and numba)."""
    from .gallery_beyond import beyond_contrast, beyond_index
    from .gallery_density import fig2
    from .gallery_escape import fig4
    from .gallery_figures import FIGURES

    return {**FIGURES, "fig2": fig2, "fig4": fig4, "beyond_contrast": beyond_contrast,
            "beyond_index": beyond_index}

#: Where the gallery specs live (the repository's ``examples/gallery``).
SPEC_DIR = Path(__file__).resolve().parents[3] / "examples" / "gallery"


@dataclass(frozen=True)
class Entry:
    """One gallery figure: its spec file and the ``--quick`` runs (overrides of that spec)."""

    spec: str
    quick: tuple[dict[str, Any], ...]
    full: tuple[dict[str, Any], ...] = field(default=({},))


def _alphas(*a: float) -> dict[str, Any]:
    return {"medium.high.patches.alpha": list(a)}


_FIG2_QUICK: dict[str, Any] = {"medium": {"length": 2000.0}, "times": {"max": 1e4},
                               "density": {"half_width": 120.0}}

#: Fig. 3 carried to κ_H with `exact`: contrast 1e2, l_max = 10, t_max = 20 l_max²/κ_low
_FIG3_CONVERGE: dict[str, Any] = {
    "medium": {"length": 500.0, "low": {"kappa": 1e-2}, "high": {"patches": {"l_max": 10.0}}},
    "particles": {"count": 100, "per_task": 20}, "times": {"max": 2e5, "count": 22},
    "sweep": _alphas(1.5, 2.0, 2.5, 3.0, 4.5)}

#: beyond_contrast at quick size: the two extreme contrasts
_BEYOND_QUICK: dict[str, Any] = {"medium.low.kappa": [1e-4, 1e-6],
                                 "medium.high.patches.alpha": [2.5, 3.0]}

def _kappa_perp_runs(base: Mapping[str, Any], groups: Sequence[tuple[Sequence[float], float, int]],
                     ) -> tuple[dict[str, Any], ...]:
    """One run per group of κ⊥ with its own t_max (``times.count`` log-spaced times): a small κ⊥
    needs t ≫ τ⊥ = l⊥²/κ⊥, a large one costs events at rate ≈ κ⊥/l⊥² per unit time."""
    return tuple({**base, "times": {"max": t_max, "count": count},
                  "sweep": {"medium.kappa_perp": list(kp)}} for kp, t_max, count in groups)


#: Fig. 5 at the size of the gallery page: l_max/l_min = 100 (caption: 400), κ⊥ ≤ 0.1, each
#: range of κ⊥ to its own t_max (the caption's size: ≈ 2·10⁵ CPU-hours by `--dry-run`).
_FIG5_FULL = _kappa_perp_runs(
    {"medium": {"length": 5000.0, "high": {"patches": {"l_max": 100.0}}}},
    [((0.0,), 1e7, 37), ((1e-4, 1e-3), 1e5, 29), ((1e-2,), 1e4, 25), ((1e-1,), 1e3, 21)])
#: Fig. D1 at the size of the gallery page: κ⊥ from 0 to 1, each range to its own t_max.
_FIGD1_FULL = _kappa_perp_runs(
    {}, [((0.0, 1e-5, 1e-4), 1e5, 33), ((1e-3,), 1e4, 29), ((1e-2, 1e-1), 1e3, 25),
         ((1.0,), 1e2, 21)])
#: Appendix E's single-phase limit (one κ everywhere): the persistent random walk
_APPE_SINGLE: dict[str, Any] = {
    "medium": {"patches": [[100.0, 1.0]], "high": None, "low": None, "length": None},
    "particles": {"count": 400, "per_task": 20}, "times": {"min": 1e-2, "max": 1e3, "count": 11},
    "sweep": None}

#: The gallery, in the paper's order. Quick sizes keep every claim testable in CI.
GALLERY: dict[str, Entry] = {
    "fig2": Entry("fig2.toml", (
        _FIG2_QUICK,
        # the same realisation and source with the exact kernel: Monte-Carlo histograms
        {**_FIG2_QUICK, "kernel": "exact", "particles": {"count": 10000, "per_task": 2500}},
    ), full=({}, {"kernel": "exact", "particles": {"count": 40000, "per_task": 5000}})),
    "fig3": Entry("fig3.toml", (
        # the subdiffusive window of the spec (contrast 1e6, l_max = 1e4, 10 ≤ t ≤ 1e3): fewer
        # particles; eight seeds give the spread between independent sets of realisations
        {"medium": {"length": 5e4}, "particles": {"count": 4000, "per_task": 4000}},
        _FIG3_CONVERGE,
    ), full=({}, {**_FIG3_CONVERGE, "particles": {"count": 400, "per_task": 40}})),
    "fig4": Entry("fig4.toml", (
        # escape.stop (as in the spec): a particle costs its steps until escape, so 16
        # realisations of 100 particles per point are cheap (⟨1/τ⟩'s error uses ν = 15)
        {"medium": {"length": 1000.0, "low": {"kappa": 1e-2}},
         "particles": {"count": 1600, "per_task": 100}, "times": {"max": 1e5, "count": 6},
         "escape": {"stop": True},
         "sweep": {**_alphas(1.5, 3.0), "energy": [0.3, 1.0, 3.0]}},
    )),
    "fig5": Entry("fig5.toml", (
        {"medium": {"length": 400.0, "l_perp": 0.2, "low": {"kappa": 1e-2},
                    "high": {"patches": {"l_max": 20.0}}},
         "particles": {"count": 80, "per_task": 10}, "times": {"max": 3e3, "count": 13},
         "sweep": {"medium.kappa_perp": [0.0, 1e-3, 1e-2]}},
    ), full=_FIG5_FULL),
    "appE": Entry("appE.toml", (
        {"medium": {"length": 500.0, "high": {"kappa": 1.0},
                    "low": {"kappa": 1e-2}},
         "particles": {"count": 100, "per_task": 25}, "times": {"min": 1e-2, "max": 1e4,
                                                               "count": 13},
         "sweep": {"medium.high.kappa": [1.0, 10.0]}},
        _APPE_SINGLE,
    ), full=({}, {**_APPE_SINGLE, "particles": {"count": 4000, "per_task": 200},
                  "times": {"min": 1e-2, "max": 1e3, "count": 21}})),
    "beyond_contrast": Entry("beyond_contrast.toml", (
        {"particles": {"count": 4}, "times": {"count": 27}, "sweep": _BEYOND_QUICK},
        {"kernel": "exact", "particles": {"count": 2000, "per_task": 500},
         "times": {"max": 1e3, "count": 11}, "sweep": _BEYOND_QUICK},
    ), full=({}, {"kernel": "exact", "particles": {"count": 4000, "per_task": 500},
                  "times": {"max": 1e3, "count": 21}})),
    "beyond_index": Entry("beyond_index.toml", (
        {"medium": {"length": 5e4}, "particles": {"count": 10000, "per_task": 10000},
         "sweep": {**_alphas(3.5, 3.6667), "seed": [51, 52, 53, 54, 55, 56]}},
    )),
    "figD1": Entry("figD1.toml", (
        {"medium": {"length": 200.0}, "particles": {"count": 160, "per_task": 20},
         "times": {"max": 1e3, "count": 13},
         "sweep": {"medium.kappa_perp": [0.0, 1e-4, 1e-3]}},
    ), full=_FIGD1_FULL),
}


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in, table by table; a ``None`` value removes the key."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key != "sweep":
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def specs_of(name: str, quick: bool, spec_dir: Path = SPEC_DIR) -> list[dict[str, Any]]:
    """The spec mappings one gallery entry runs (quick: its reduced runs)."""
    entry = GALLERY[name]
    base = tomllib.loads((spec_dir / entry.spec).read_text(encoding="utf-8"))
    return [merge(base, over) for over in (entry.quick if quick else entry.full)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_service(workers: int | None, log: Path) -> Iterator[tuple[str, str]]:
    """A ``patchwalk serve`` subprocess on loopback with a fresh token: ``(url, token)``.

    Started in its own session and stopped (SIGTERM to its process group, then SIGKILL) on
    exit; its data directory is temporary.
    """
    token = secrets.token_urlsafe(24)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="patchwalk-gallery-") as data, \
            log.open("wb") as fh:
        cmd = [sys.executable, "-m", "patchwalk_client.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", data, "--log-level", "warning"]
        if workers:
            cmd += ["--workers", str(workers)]
        env = {**os.environ, "PATCHWALK_TOKENS": token}
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc)
            yield url, token
        finally:
            _stop(proc)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"patchwalk serve exited with status {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"patchwalk serve at {url} not ready after {timeout:g} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_entry(client: Any, name: str, quick: bool, out: Path,
              spec_dir: Path = SPEC_DIR) -> dict[str, Any]:
    """Run one gallery entry through ``client``; write its PNG and checks; return the checks."""
    from patchwalk_client.models import KappaResults, TheoryResults

    from .gallery_figures import Run

    runs: list[Run] = []
    t0 = time.monotonic()
    for spec in specs_of(name, quick, spec_dir):
        sweep = client.submit(spec)
        sweep.wait(progress=False)
        # escape.stop: escape statistics only (κ̄ and theory are not served for such a sweep)
        stop = bool((spec.get("escape") or {}).get("stop"))
        runs.append(Run(spec=spec, kappa=KappaResults(points=[]) if stop else sweep.kappa(),
                        theory=TheoryResults(points=[]) if stop else sweep.theory(),
                        escape=sweep.escape() if spec.get("escape") else None,
                        kappa2d=sweep.kappa2d() if spec.get("dimensions") == 2 else None,
                        density=sweep.density() if spec.get("density") else None,
                        histogram=sweep.density(source="histogram")
                        if spec.get("density") and spec.get("kernel") == "exact" else None))
    wall = time.monotonic() - t0
    png, checks = figures()[name](runs)
    checks = {"figure": name, "quick": quick, "wall_s": round(wall, 1), **checks}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.png").write_bytes(png)
    (out / f"{name}.json").write_text(json.dumps(checks, indent=1, default=float) + "\n",
                                      encoding="utf-8")
    return checks


def run_gallery(names: list[str], *, quick: bool, out: Path, url: str | None = None,
                token: str | None = None, workers: int | None = None,
                echo: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Run the named entries (all when empty) against ``url`` or a local service."""
    from patchwalk_client.client import Client

    unknown = [n for n in names if n not in GALLERY]
    if unknown:
        raise ValueError(f"no gallery figure {unknown}: choose from {', '.join(GALLERY)}")
    chosen = names or list(GALLERY)
    results: dict[str, dict[str, Any]] = {}

    def go(u: str, tok: str) -> None:
        with Client(u, token=tok, timeout=60) as client:
            for name in chosen:
                echo(f"gallery: {name} ...")
                results[name] = run_entry(client, name, quick, out)
                echo(f"gallery: {name} -> {out / (name + '.png')} "
                     f"({results[name]['wall_s']} s)")

    if url is not None:
        go(url, token or os.environ.get("PATCHWALK_TOKEN", ""))
    else:
        out.mkdir(parents=True, exist_ok=True)
        with local_service(workers, out / "serve.log") as (u, tok):
            go(u, tok)
    return results


def register_gallery(subparsers: Any) -> None:
    """Add ``patchwalk gallery``."""
    p = subparsers.add_parser(
        "gallery", help="reproduce the paper's figures through the service",
        description="Run the gallery specs (examples/gallery) through a local patchwalk serve "
                    "(or --url) and write each figure as PNG with its quantitative checks.")
    p.add_argument("names", nargs="*", metavar="NAME", help=f"figures ({', '.join(GALLERY)}); "
                   "default all")
    p.add_argument("--quick", action="store_true", help="the reduced size the tests use")
    p.add_argument("--out", type=Path, default=Path("gallery-out"), metavar="DIR",
                   help="where the PNGs and checks go (default ./gallery-out)")
    p.add_argument("--url", default=None, help="use this service instead of starting one "
                   "(token from PATCHWALK_TOKEN)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local service (default: one per core)")
    p.set_defaults(func=cmd_gallery)


def cmd_gallery(args: argparse.Namespace) -> int:
    """Run ``patchwalk gallery``; exit status 2 for an unknown figure."""
    try:
        run_gallery(list(args.names), quick=args.quick, out=args.out, url=args.url,
                    workers=args.workers, echo=lambda s: print(s, file=sys.stderr))
    except ValueError as exc:
        print(f"patchwalk gallery: {exc}", file=sys.stderr)
        return 2
    return 0
