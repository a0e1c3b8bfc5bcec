"""The figures say what they show: converged or not, log axes over decades, 1σ, user text."""

from __future__ import annotations

from typing import Any

import pytest
from patchwalk_client.models import Kappa2DPoint, KappaPoint
from patchwalk_service.plots import draw_kappa2d, plot_kappa, plot_kappa2d

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def _p2d(kperp: float, converged: bool, **kw: Any) -> Kappa2DPoint:
    return Kappa2DPoint(params={"medium.kappa_perp": kperp}, kappa_2d=0.02 + kperp,
                        kappa_2d_err=1e-3, converged=converged, log_slope=1.0 if converged
                        else 0.6, kappa_A=0.5 + kperp, kappa_H=0.02, kappa_perp=kperp,
                        heuristic_10=0.03, heuristic_11=None, n_particles=10, n_tasks=2, **kw)


def test_kappa2d_labels_are_truthful_and_kappa_perp_axis_is_symlog() -> None:
    import matplotlib.pyplot as plt

    points = [_p2d(0.0, True), _p2d(1e-4, False), _p2d(1e-3, True), _p2d(1e-2, False)]
    fig, ax = plt.subplots()
    draw_kappa2d(ax, points, title="a $5 sweep")
    labels = ax.get_legend_handles_labels()[1]
    assert "κ̄_2D ± 1σ, converged" in labels
    assert "κ̄_2D ± 1σ, NOT converged (t_max too short)" in labels
    assert any("arithmetic mean" in lb for lb in labels)
    assert any("harmonic mean" in lb for lb in labels)
    assert not any("eq. (11)" in lb for lb in labels)  # no value, no legend entry
    assert ax.get_xscale() == "symlog" and ax.get_yscale() == "log"
    # κ_A of each point is its own marker (distinguishable per point)
    ka = [ln for ln in ax.get_lines() if ln.get_label().startswith("κ_A")][0]
    assert list(ka.get_ydata()) == pytest.approx([0.5, 0.5001, 0.501, 0.51])
    assert ax.get_title() == r"a \$5 sweep"
    plt.close(fig)
    all_converged = plot_kappa2d([_p2d(1e-3, True), _p2d(1e-2, True)], title="$x")
    assert all_converged[:8] == b"\x89PNG\r\n\x1a\n"


def test_kappa_plot_takes_dollar_signs_as_text() -> None:
    pt = KappaPoint(params={"name": "cost $3"}, t=[0.1, 1.0], kappa=[0.5, 0.3],
                    kappa_err=[0.01, 0.02], kappa_err_source="realisations", kappa_A=0.5,
                    kappa_H=0.1, kappa_A_ensemble=0.5, kappa_H_ensemble=0.1, n_particles=10,
                    n_tasks=2)
    png = plot_kappa([pt], title="run $a_$ b")  # as math this would not render
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
