"""Five-minute tour through the client. Start the service first: ``patchwalk serve``.

    python examples/tour.py [SPEC] [--url URL]

Submits the spec (default examples/example.toml), follows its progress, prints κ̄(t) of each
point, saves the plot as tour.png and opens the results in xarray (if installed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from patchwalk_client.client import Client


def main() -> None:
    here = Path(__file__).parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(here / "example.toml"))
    parser.add_argument("--url", default=None, help="service URL (default $PATCHWALK_URL)")
    args = parser.parse_args()

    client = Client(args.url)
    sweep = client.submit(Path(args.spec))
    print(f"sweep {sweep.id}: {'submitted' if sweep.created else 'already known'}")
    status = sweep.wait(progress=True)
    print(f"done: {status.tasks_done} tasks, {status.steps_done:.3g} particle-steps")

    for point in sweep.kappa()["points"]:
        print(
            f"point {point['params'] or '(no axes)'}: kappa_A = {point['kappa_A']:.4g}, "
            f"kappa_H = {point['kappa_H']:.4g}"
        )
        for t, k, e in list(zip(point["t"], point["kappa"], point["kappa_err"], strict=True))[::5]:
            print(f"   t = {t:<10.4g} kappa = {k:.4g} +- {e:.2g}")

    Path("tour.png").write_bytes(sweep.plot_png())
    print("plot saved to tour.png")
    try:
        ds = sweep.to_xarray()
    except ImportError as exc:
        print(exc)
        return
    print(ds)


if __name__ == "__main__":
    main()
