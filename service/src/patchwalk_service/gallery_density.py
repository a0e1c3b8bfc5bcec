"""Fig. 2 of the gallery: the density of a point source, on the lattice and from particles.

The first run of ``fig2`` is the ``reference`` lattice (n(x, t) evolved exactly, eq. 1); the
second the ``exact`` kernel on the same realisation and source, whose tasks count particles in
the same bins (``/density?source=histogram``, :mod:`patchwalk_worker.histogram`). The checks are
the lattice's mass and spread, and Pearson's χ² of the histogram against the lattice density.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from patchwalk_client.models import DensityPoint

from .gallery_figures import Run, _axes, arr
from .plots import _png


def chi2_against(hist: DensityPoint, lattice: DensityPoint) -> list[dict[str, float]]:
    """Pearson χ² of the histogram counts against the lattice density, per time.

    Expected counts N·n̄·width per bin (n̄ the lattice's exact bin mean) over bins expecting at
    least 5, plus one bin for everything outside the window; dof = number of those bins − 1
    (the total N is fixed).
    """
    n = int(hist.n_particles or 0)
    edges = arr(hist.edges)
    width = np.diff(edges)
    rows = []
    for j in range(len(hist.t)):
        obs = arr(hist.density[j]) * n * width
        exp = arr(lattice.density[j]) * n * width
        sel = exp >= 5
        o = np.concatenate([obs[sel], [n - obs[sel].sum()]])
        e = np.concatenate([exp[sel], [n - exp[sel].sum()]])
        keep = e >= 5
        chi2 = float(np.sum((o[keep] - e[keep]) ** 2 / e[keep]))
        rows.append({"t": float(arr(hist.t)[j]), "chi2": chi2, "dof": int(keep.sum()) - 1})
    return rows


def fig2(runs: Sequence[Run]) -> tuple[bytes, dict[str, Any]]:
    """Density of a point source at five times, the staircase κ(x), Gaussian with κ_H; the
    Monte-Carlo histogram of the same source beside the lattice density."""
    run = runs[0]
    assert run.density is not None
    d = run.density.points[0]
    ref = run.kappa.points[0]
    edges, t = arr(d.edges), arr(d.t)
    x = 0.5 * (edges[1:] + edges[:-1])
    kh = float(d.kappa_H or math.nan)
    mc = runs[1].histogram.points[0] if len(runs) > 1 and runs[1].histogram else None
    fig, axes = _axes(2 if mc is not None else 1, 7.0)
    ax = axes[0]
    checks: dict[str, Any] = {"t": t.tolist(), "mass": arr(d.mass).tolist()}
    window_mass, gauss_l1 = [], []
    for j, row in enumerate(d.density):
        n = arr(row)
        line = ax.semilogy(x, np.maximum(n, 1e-12), lw=1.2, label=f"t = {t[j]:.3g}")[0]
        g = np.exp(-x**2 / (4 * kh * t[j])) / math.sqrt(4 * math.pi * kh * t[j])
        ax.semilogy(x, g, ls="--", lw=0.8, color=line.get_color())
        window_mass.append(float(np.sum(n * np.diff(edges))))
        gauss_l1.append(float(np.sum(np.abs(n - g) * np.diff(edges))))
    pe, pk = arr(d.patch_edges), arr(d.patch_kappa)
    twin = ax.twinx()
    xs = np.concatenate([[edges[0]], pe, [edges[-1]]])
    twin.step(xs, np.concatenate([pk, pk[-1:]]), where="post", color="0.6", lw=0.8)
    twin.set_yscale("log")
    twin.set_ylabel("κ(x) (grey staircase)")
    top = max(float(np.nanmax(arr(r))) for r in d.density)
    ax.set_ylim(top * 1e-6, top * 3)
    ax.set_xlabel("x − x0")
    ax.set_ylabel("n(x, t)  (dashed: Gaussian with κ_H)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Fig. 2: point source in one realisation (reference lattice)")
    msd = arr(d.msd)
    checks.update(
        window_mass=window_mass, gauss_l1=gauss_l1, kappa_A=d.kappa_A, kappa_H=kh,
        kappa_source=(msd / (2 * t)).tolist(),
        kappa_reference=arr(ref.kappa).tolist(),
        x0=d.x0,
    )
    if mc is not None:
        assert runs[1].density is not None
        lat = runs[1].density.points[0]
        bx = axes[1]
        width = np.diff(edges)
        for j in range(len(mc.t)):
            h = arr(mc.density[j])
            err = np.sqrt(h * width * int(mc.n_particles or 0)) / (int(mc.n_particles or 1)
                                                                    * width)
            line = bx.semilogy(x, arr(lat.density[j]), lw=1.0, label=f"t = {t[j]:.3g}")[0]
            bx.errorbar(x[h > 0], h[h > 0], yerr=err[h > 0], fmt=".", ms=2, elinewidth=0.5,
                        color=line.get_color())
        bx.set_ylim(top * 1e-4, top * 3)
        bx.set_xlabel("x − x0")
        bx.set_ylabel("n(x, t)")
        bx.set_title(f"same source: lines lattice, dots exact-kernel histogram "
                     f"({mc.n_particles} particles)", fontsize=8)
        bx.legend(fontsize=7, loc="upper left")
        checks["histogram"] = {
            "n_particles": mc.n_particles, "same_source": mc.x0 == d.x0,
            "same_window": list(mc.edges) == list(d.edges),
            "mass_in_window": arr(mc.mass).tolist(),
            "chi2": chi2_against(mc, lat),
            "lattice_same_as_reference_run": bool(np.allclose(
                arr(lat.density[-1]), arr(d.density[-1]), rtol=0, atol=1e-12)),
        }
    return _png(fig), checks
