"""Point-source density on the reference lattice (Fig. 2) and Monte-Carlo histograms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from patchwalk_worker.density import evolve, histogram_density, point_source_density
from patchwalk_worker.media import Medium
from patchwalk_worker.reference import build_lattice, reference_msd

FOUR = [(1.0, 1.0), (0.5, 0.01), (2.0, 1.0), (0.7, 0.01)]


def _gauss_bins(edges: np.ndarray, var: float) -> np.ndarray:
    s = math.sqrt(2.0 * var)
    cdf = np.array([0.5 * (1.0 + math.erf(e / s)) for e in edges])
    return np.diff(cdf) / np.diff(edges)


def test_mass_conserved_and_solvers_agree() -> None:
    m = Medium.from_patches(FOUR)
    t = np.array([1e-3, 0.1, 10.0, 1e3])
    a = point_source_density(m, 0.3, t, method="eigen")
    b = point_source_density(m, 0.3, t, method="contour")
    # measured: eigen loses 6e-10 by t = 1e3 (eigh round-off × t), contour ≤ 1.4e-11
    assert np.allclose(a.mass(), 1.0, rtol=0, atol=3e-9)
    assert np.allclose(b.mass(), 1.0, rtol=0, atol=1e-10)
    assert np.max(np.abs(a.density - b.density)) < 1e-10 * np.max(a.density)
    assert np.all(a.density > -1e-12)
    # t → ∞ on the periodic lattice: uniform 1/P
    assert np.allclose(a.density[-1], 1 / 4.2, rtol=1e-3)


def test_homogeneous_is_symmetric_gaussian() -> None:
    m = Medium.from_patches([(200.0, 0.5)])
    t = np.array([2.0, 10.0, 50.0])
    d = point_source_density(m, 100.0 + 1 / 32, t, l_min=1.0, grading=1.0)  # cells h = 1/16
    assert d.h.size == 3200  # contour solver (auto)
    sym = d.density[:, 1:]  # cell 0 is the antipode, the others pair up around the source
    assert np.allclose(sym, sym[:, ::-1], rtol=0, atol=1e-12 * sym.max())
    edges = np.linspace(-20.0, 20.0, 81)
    binned = d.binned(edges)
    for j, tj in enumerate(t):
        g = _gauss_bins(edges, 2 * 0.5 * tj)
        assert np.max(np.abs(binned[j] - g)) < 2e-3 * g.max()
    assert np.allclose(d.msd(), 2 * 0.5 * t, rtol=1e-9)  # exact on the uniform lattice


def test_uniform_start_average_is_the_reference_msd() -> None:
    # Σ_i π_i ⟨Δx²⟩_i(t) over point sources = Green–Kubo reference (same lattice)
    m = Medium.from_patches(FOUR * 4)
    lat = build_lattice(m.edges, m.kappa, cells_per_l_min=8)
    t = np.array([1e-4, 0.01, 0.3, 1.0])
    centre = np.cumsum(lat.h) - 0.5 * lat.h
    period = float(np.sum(lat.h))
    off = np.mod(centre[:, None] - centre[None, :] + period / 2, period) - period / 2
    p = evolve(lat, np.eye(lat.n_cells), t, "eigen")  # column i: source in cell i
    total = np.einsum("tji,ji,i->t", p, off**2, lat.h / period)
    q = evolve(lat, np.eye(lat.n_cells)[:, :3], t[1:2], "contour")
    assert np.max(np.abs(q[0] - p[1, :, :3])) < 1e-10
    ref = reference_msd(m, t, cells_per_l_min=8)
    assert np.allclose(total, ref, rtol=1e-9)
    # early: the average of the local κ's is κ_A (lattice κ_A is below it by O(h0/l))
    assert total[0] / (2 * t[0]) == pytest.approx(m.kappa_A, rel=0.02)


def test_early_times_local_kappa() -> None:
    m = Medium.from_patches(FOUR)
    starts = np.concatenate([[0.0], np.cumsum([p[0] for p in FOUR])])
    local = []
    for (ell, kap), a in zip(FOUR, starts[:-1], strict=True):
        t = (ell / 2) ** 2 / (2 * kap) / 50  # the interfaces are 7 standard deviations away
        d = point_source_density(m, a + ell / 2 + 1 / 256, [t], l_min=0.5, grading=1.0,
                                 cells_per_l_min=64)
        local.append(d.msd()[0] / (2 * t))
    assert np.allclose(local, [p[1] for p in FOUR], rtol=2e-3)
    lengths = np.array([p[0] for p in FOUR])
    assert np.sum(lengths * local) / lengths.sum() == pytest.approx(m.kappa_A, rel=2e-3)


@pytest.mark.slow
def test_late_times_gaussian_envelope_with_kappa_H() -> None:
    m = Medium.from_patches(FOUR * 60)  # period 4.2 repeated; length 252
    t = np.array([2e4])
    x0 = 0.5  # in the first κ = 1 patch
    d = point_source_density(m, x0, t, cells_per_l_min=8)
    edges = np.arange(-30, 31) * 4.2 - x0  # whole periods
    binned = d.binned(edges)[0]
    var_h = 2 * m.kappa_H * t[0]
    g_h = _gauss_bins(edges, var_h)
    err_h = np.max(np.abs(binned - g_h)) / g_h.max()
    g_a = _gauss_bins(edges, 2 * m.kappa_A * t[0])
    err_a = np.max(np.abs(binned - g_a)) / g_h.max()
    assert err_h < 0.01, err_h
    assert err_a > 0.5  # κ_A is nowhere near
    assert d.msd()[0] / (2 * t[0]) == pytest.approx(m.kappa_H, rel=0.01)


def test_histogram_density() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, size=(2, 40_000))
    edges = np.linspace(-3, 3, 13)
    dens, err = histogram_density(x, edges)
    g = _gauss_bins(edges, 1.0)
    assert np.all(np.abs(dens - g) < 4 * err + 1e-12)
    d1, _ = histogram_density(x[0], edges)
    assert np.array_equal(d1, dens[0])
    with pytest.raises(ValueError, match="increasing"):
        histogram_density(x[0], [1.0, 0.0])


def test_density_record_of_a_reference_point_is_normalised_and_maps_the_medium() -> None:
    """``[density]`` at finalize: mass 1, the window holds it, the staircase is the medium's."""
    from patchwalk_client.spec import load_spec
    from patchwalk_worker.density import density_record
    from patchwalk_worker.media import build_medium
    from patchwalk_worker.rng import medium_rng

    spec = load_spec({
        "kernel": "reference", "seed": 3,
        "medium": {"length": 200.0,
                   "high": {"kappa": 1.0, "patches": {"pdf": "power_law", "alpha": 2.5,
                                                      "l_min": 1.0, "l_max": 10.0}},
                   "low": {"kappa": 0.01, "patches": {"pdf": "same"}}},
        "particles": {"count": 1, "per_task": 1}, "times": {"min": 1.0, "max": 100.0, "count": 3},
        "reference": {"cells_per_l_min": 8}, "density": {"half_width": 60.0, "bins": 120},
    })
    rec = density_record(spec, 0, {})
    edges = np.array(rec.edges)
    assert np.allclose(rec.mass, 1.0, atol=1e-10)
    for row in rec.density:
        assert np.sum(np.array(row) * np.diff(edges)) == pytest.approx(1.0, abs=1e-6)
    medium = build_medium(spec, medium_rng(3, 0, 0), 100.0)
    assert rec.x0 == 100.0 and rec.kappa_H == pytest.approx(medium.kappa_H)
    pe, pk = np.array(rec.patch_edges), np.array(rec.patch_kappa)
    assert pk.size == pe.size + 1 and np.all(np.diff(pe) > 0) and np.all(np.abs(pe) < 60.0)
    mids = 0.5 * (np.concatenate([[-60.0], pe]) + np.concatenate([pe, [60.0]]))
    e, k = medium.strip(0)
    for m, kap in zip(mids, pk, strict=True):  # κ between interfaces is the medium's κ there
        assert k[np.searchsorted(e, 100.0 + m, side="right") - 1] == kap


def _chi2(counts: np.ndarray, expected: np.ndarray) -> tuple[float, int]:
    """Pearson χ² over bins expecting ≥ 5 counts, and their number."""
    sel = expected >= 5
    return float(np.sum((counts[sel] - expected[sel]) ** 2 / expected[sel])), int(sel.sum())


def test_point_source_histogram_matches_the_lattice_density() -> None:
    from patchwalk_worker.histogram import point_source_histogram
    from patchwalk_worker.rng import task_state

    # κ = 1 | 0.01 patches: the skew interface rule shows in the point-source density (a wrong
    # split probability piles mass on the wrong side of the first interface)
    m = Medium.from_patches(FOUR * 10)
    t = np.array([0.1, 1.0, 10.0, 100.0])
    x0, n = 10.3, 4000
    edges = np.linspace(-6.0, 6.0, 49)
    counts, steps = point_source_histogram(m, x0, t, n, task_state(5, 0, 0), edges)
    assert counts.dtype == np.int64 and np.all(counts.sum(axis=1) == n) and steps > 0
    again, _ = point_source_histogram(m, x0, t, n, task_state(5, 0, 0), edges)
    assert np.array_equal(counts, again)  # same stream, same counts, bit for bit
    lat = point_source_density(m, x0, t, cells_per_l_min=64).binned(edges)
    w = edges[1] - edges[0]
    for j in range(t.size):
        chi2, dof = _chi2(counts[j, 1:-1].astype(float), lat[j] * n * w)
        # χ² with dof degrees of freedom: mean dof, sd √(2 dof); 5 sd is p < 1e-5
        assert chi2 <= dof + 5 * math.sqrt(2 * dof), (t[j], chi2, dof)
        outside = n * (1 - lat[j].sum() * w)
        assert abs(counts[j, 0] + counts[j, -1] - outside) <= 5 * math.sqrt(outside + 1)


def test_histogram_record_sums_tasks_in_any_order() -> None:
    from patchwalk_client.models import DensityPoint
    from patchwalk_worker.histogram import histogram_record

    lattice = DensityPoint(params={}, t=[1.0], x0=0.0, edges=[-1.0, 0.0, 1.0],
                           density=[[0.5, 0.5]], mass=[1.0], msd=[1 / 3], method="lattice",
                           kappa_A=1.0, kappa_H=1.0, patch_edges=[], patch_kappa=[1.0])
    counts = np.array([[[0, 3, 1, 0]], [[1, 2, 2, 1]]], dtype=np.int64)
    rec = histogram_record(lattice, counts)
    assert rec.method == "histogram" and rec.n_particles == 10
    assert rec.density == [[0.5, 0.3]] and rec.mass == [0.8] and rec.msd == [None]
    assert histogram_record(lattice, counts[::-1]) == rec
