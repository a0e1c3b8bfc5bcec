"""Results records: assembled once at finalise, read back unchanged, NaN as null, filters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from patchwalk_client.errors import UnknownAxisError
from patchwalk_client.models import KappaResults
from patchwalk_client.spec import load_spec
from patchwalk_worker.execute import execute_task
from patchwalk_worker.results import (
    RESULTS_FILE,
    PointSummary,
    ResultsError,
    filter_points,
    read_results,
    records,
)
from patchwalk_worker.store import SweepStore
from patchwalk_worker.summary import combine_kappa
from test_store import fake_runner, fill, spec_dict

KAPPA_KEYS = ["params", "t", "kappa", "kappa_err", "kappa_err_source", "kappa_err_dof",
              "kappa_err_particles", "kappa_err_between", "kappa_A", "kappa_H",
              "kappa_A_ensemble", "kappa_H_ensemble", "n_particles", "n_tasks"]


def _summary(two_d: bool) -> PointSummary:
    """One hand-made point: 4 tasks, κ_H of the ensemble undefined (NaN)."""
    rng = np.random.default_rng(7)
    t = np.geomspace(0.1, 10.0, 6)
    dx = rng.standard_normal((4, 500, 6)) * np.sqrt(2 * t)
    sums = np.zeros((4, 6, 5))
    sums[:, :, 0] = 500
    sums[:, :, 2] = (dx**2).sum(axis=1)
    sums[:, :, 3] = (dx**4).sum(axis=1)
    real = np.array([[1.0, 0.5], [3.0, 0.7]] * 2)
    return PointSummary(
        params={"energy": 10.0}, t=t, distances=np.zeros(0), kappa=combine_kappa(sums, t),
        realisation=np.mean(real, axis=0),
        realisation_columns=(float(np.mean(real[:, 0])), float(np.mean(real[:, 1]))),
        ensemble=(2.0, float("nan")), kappa_2d=None, kappa_perp=0.1 if two_d else None,
        heuristic=None, escape=None, escape_reference=None, curves={"kappa_A": 2.0 * np.ones(6)},
        n_particles=2000, n_tasks=4, steps=0,
    )


def test_kappa_record_shape_and_nan_to_null() -> None:
    res = records([_summary(two_d=False)], dimensions=1)
    pt = res.kappa[0].to_dict()
    assert list(pt) == KAPPA_KEYS
    assert pt["kappa_A"] == 2.0 and pt["kappa_H"] == pytest.approx(0.6)
    assert pt["kappa_H_ensemble"] is None and pt["n_tasks"] == 4
    json.dumps(pt, allow_nan=False)
    # dict access for scripts, and the 2D extra key only where it applies
    assert res.kappa[0]["kappa"] == pt["kappa"] and "kappa_perp" not in res.kappa[0]
    two = records([_summary(two_d=True)], dimensions=2).kappa[0]
    assert two["kappa_perp"] == 0.1
    assert list(two.to_dict()) == [*KAPPA_KEYS[:12], "kappa_perp", *KAPPA_KEYS[12:]]
    assert KappaResults(points=[res.kappa[0]]) == {"points": [pt]}
    assert res.escape[0].to_dict() == {"params": {"energy": 10.0}, "distance": []}


def test_read_results_is_what_finalise_stored(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    store = fill(path)
    with pytest.raises(ResultsError, match="not finalised"):
        read_results(path)
    with pytest.raises(ResultsError, match="not a patchwalk store"):
        read_results(tmp_path / "nowhere")
    store.write_summaries()
    assert (path / RESULTS_FILE).is_file()
    res = read_results(path)
    ds = xr.open_zarr(path)
    n = len(store.points)
    assert len(res.kappa) == len(res.escape) == len(res.theory) == n and res.kappa2d == []
    kappa = ds["kappa"].values.reshape(n, -1)
    rate = ds["escape_rate"].values.reshape(n, -1)
    for i, pt in enumerate(res.kappa):
        assert pt.params == store.points[i].params
        assert pt.kappa == kappa[i].tolist()  # the records and the arrays are the same numbers
        assert res.escape[i].rate == rate[i].tolist()
        assert res.theory[i].t == store.times[i].tolist() and res.theory[i].curves["kappa_A"]
    assert store.point_results() == [p.to_dict() for p in res.kappa]


def test_2d_records_carry_the_heuristics(tmp_path: Path) -> None:
    path = tmp_path / "s2.zarr"
    spec = load_spec(spec_dict(dimensions=2, medium={"patches": [[1.0, 1.0], [1.0, 0.1]],
                                                     "kappa_perp": 0.5, "l_perp": 1.0},
                               sweep={"energy": [1.0, 2.0]}))
    store = SweepStore.create_or_open(path, spec)
    for p, k in store.pending():
        execute_task(str(path), p, k, runner=fake_runner)
    store.write_summaries()
    res = read_results(path)
    ds = xr.open_zarr(path)
    assert res.dimensions == 2
    assert [p.kappa_2d for p in res.kappa2d] == ds["kappa_2d"].values.tolist()
    assert [p.heuristic_10 for p in res.kappa2d] == ds["kappa_2d_heuristic"].values.tolist()
    assert all(p.converged for p in res.kappa2d) and res.kappa[0].kappa_perp == 0.5


def test_filter_points_numeric_and_unknown_axis() -> None:
    params = [{"energy": 1.0, "kernel": "exact"}, {"energy": 10.0, "kernel": "euler"}]
    assert filter_points(params, {}) == [0, 1]
    assert filter_points(params, {"energy": "10"}) == [1]
    assert filter_points(params, {"energy": "1e1", "kernel": "euler"}) == [1]
    for value in ("3", "abc"):  # a value the axis does not have names the values it has
        with pytest.raises(UnknownAxisError) as none:
            filter_points(params, {"energy": value})
        assert none.value.errors == [{"loc": "energy", "msg": f"{value!r} matches no point; "
                                                              "this sweep has energy = 1.0, 10.0"}]
    with pytest.raises(UnknownAxisError) as apart:  # both values exist, never together
        filter_points(params, {"energy": "1", "kernel": "euler"})
    assert "energy=1.0, kernel=exact; energy=10.0, kernel=euler" in str(apart.value)
    with pytest.raises(UnknownAxisError) as err:
        filter_points(params, {"seed": "1"})
    assert isinstance(err.value, ValueError)
    assert err.value.errors == [{"loc": "seed", "msg": "not a sweep axis; use one of energy, "
                                                       "kernel"}]
    assert "?energy=1.0" in str(err.value)  # the hint is this sweep's own axis and value


def test_results_file_is_written_like_the_store_files(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    fill(path).write_summaries()
    mode = (path / RESULTS_FILE).stat().st_mode & 0o777
    assert mode == (path / "zarr.json").stat().st_mode & 0o777
    assert [p.name for p in path.iterdir() if p.name.endswith(".tmp")] == []


def test_escape_served_beside_the_exact_first_passage_time(tmp_path: Path) -> None:
    """A finished store serves the Monte-Carlo mean escape time beside the exact ⟨τ⟩ (FP1) of
    the same realisations, and the two agree within 1% + 4σ when every particle escaped."""
    spec = load_spec({
        "name": "esc", "seed": 3, "kernel": "exact",
        "medium": {"patches": [[1.0, 1.0], [0.5, 0.01]]},
        "particles": {"count": 4000, "per_task": 2000},
        "times": {"min": 0.1, "max": 2000.0, "count": 4},
        "escape": {"distances": [0.3, 1.0, 3.0]},
    })
    store = SweepStore.create_or_open(tmp_path / "s.zarr", spec)
    for point, task in store.pending():
        execute_task(str(tmp_path / "s.zarr"), point, task)
    SweepStore.create_or_open(tmp_path / "s.zarr", spec).write_summaries()
    esc = read_results(tmp_path / "s.zarr").escape[0]
    assert esc.fraction == [1.0, 1.0, 1.0]
    for mc, err, ref, sd in zip(esc.mean_time, esc.mean_time_err, esc.mean_time_reference,
                                esc.time_sd_reference, strict=True):
        assert mc is not None and err is not None and ref is not None and sd is not None
        assert abs(mc - ref) <= 0.01 * ref + 4.0 * err, (mc, err, ref)
        # the particle error of the mean agrees with the exact spread of τ / √N
        assert err == pytest.approx(sd / np.sqrt(4000), rel=0.15)
    assert esc.rate_reference == pytest.approx([1.0 / r for r in esc.mean_time_reference])
