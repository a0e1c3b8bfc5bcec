"""Sweep expansion: order, zip groups, path errors, refused axes, invalid points."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from patchwalk_client.errors import SpecError
from patchwalk_client.spec import load_spec
from patchwalk_client.sweep import axes, expand_points, schema_paths
from specs import small_spec


def base(sweep: dict[str, Any] | None = None) -> dict[str, Any]:
    d = small_spec()
    if sweep is not None:
        d["sweep"] = sweep
    return d


def spec_errors(data: Any) -> list[dict[str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(data)
    return info.value.errors


def test_no_sweep_is_one_point() -> None:
    (p,) = expand_points(load_spec(base()))
    assert p.index == 0 and p.params == {} and not p.spec.sweep
    assert axes(load_spec(base())) == []


def test_cartesian_order_last_fastest_zip_after_plain() -> None:
    sweep = {
        "zip": [{"medium.high.kappa": [1.0, 2.0], "medium.high.beta": [0.5, 1.5]}],
        "medium.high.patches.alpha": [1.5, 2.5, 3.5],
        "energy": [1, 10],
    }
    spec = load_spec(base(sweep))
    points = expand_points(spec)
    assert [p.index for p in points] == list(range(12))
    expected = [
        {"medium.high.patches.alpha": a, "energy": e, "medium.high.kappa": k,
         "medium.high.beta": b}
        for a, e, (k, b) in itertools.product([1.5, 2.5, 3.5], [1.0, 10.0],
                                              [(1.0, 0.5), (2.0, 1.5)])
    ]
    assert [p.params for p in points] == expected
    for p in points:
        s = p.spec
        assert not s.sweep
        assert s.medium.high is not None
        assert (s.medium.high.patches.alpha, s.energy, s.medium.high.kappa,  # type: ignore[union-attr]
                s.medium.high.beta) == tuple(p.params.values())
    assert axes(spec) == [("medium.high.patches.alpha", [1.5, 2.5, 3.5]), ("energy", [1.0, 10.0]),
                          ("medium.high.kappa", [1.0, 2.0])]


def test_zip_groups_need_equal_lengths() -> None:
    errs = spec_errors(base({"zip": [{"energy": [1.0], "seed": [1, 2]}]}))
    assert errs[0]["loc"] == "sweep.zip[0]"
    assert "equal lengths" in errs[0]["msg"] and "energy: 1" in errs[0]["msg"]


def test_unknown_path_suggests_closest() -> None:
    (err,) = spec_errors(base({"medium.high.patches.alpah": [1.5, 2.5]}))
    assert err["loc"] == 'sweep."medium.high.patches.alpah"'
    assert "did you mean 'medium.high.patches.alpha'" in err["msg"]
    (err,) = spec_errors(base({"zip": [{"enrgy": [1.0]}]}))
    assert err["loc"] == "sweep.zip[0].enrgy" and "'energy'" in err["msg"]


@pytest.mark.parametrize("path", ["particles.count", "particles.per_task", "times.max",
                                  "times.values", "particles"])
def test_particles_and_times_are_refused(path: str) -> None:
    (err,) = spec_errors(base({path: [1, 2]}))
    assert "store layout" in err["msg"] and "not supported" in err["msg"]


def test_overlapping_paths_refused() -> None:
    errs = spec_errors(base({"medium.high": [{"kappa": 1.0, "patches": {"pdf": "narrow",
                                                                         "mean": 2.0,
                                                                         "width": 1.0}}],
                             "medium.high.kappa": [1.0]}))
    assert any("overlaps" in e["msg"] for e in errs)


def test_invalid_point_names_path_and_params() -> None:
    errs = spec_errors(base({"energy": [1.0, 2.0], "medium.high.patches.l_min": [1.0, 20.0]}))
    bad = [e for e in errs if e["loc"] == 'sweep."medium.high.patches.l_min"']
    assert len(bad) == 2  # both energies with l_min = 20 > l_max
    assert "'medium.high.patches.l_min': 20.0" in bad[0]["msg"]
    assert "l_max" in bad[0]["msg"]
    # a value that breaks a fixed field elsewhere: named by the single swept path
    (err,) = spec_errors(base({"medium.high.patches.l_max": [10.0, 5000.0]}))
    assert err["loc"] == 'sweep."medium.high.patches.l_max"'
    assert "medium.length" in err["msg"] and "5000" in err["msg"]


def test_sweep_kernel_seed_energy_and_pdf() -> None:
    sweep = {"kernel": ["exact", "euler"], "seed": [1, 2], "energy": [0.5],
             "medium.low.patches": [{"pdf": "same"},
                                    {"pdf": "narrow", "mean": 2.0, "width": 1.0}]}
    points = expand_points(load_spec(base(sweep)))
    assert len(points) == 8
    assert {p.spec.kernel for p in points} == {"exact", "euler"}
    assert {p.spec.seed for p in points} == {1, 2}
    assert points[1].params["medium.low.patches"] == {"pdf": "narrow", "mean": 2.0, "width": 1.0}
    assert points[1].spec.medium.low.patches.pdf == "narrow"  # type: ignore[union-attr]


def test_swept_field_missing_from_base_takes_first_value() -> None:
    d = base({"medium.kappa_perp": [0.0, 1e-3], "zip": [{"medium.l_perp": [0.5, 1.0]}]})
    d["dimensions"] = 2
    spec = load_spec(d)
    pts = expand_points(spec)
    assert [(p.spec.medium.kappa_perp, p.spec.medium.l_perp) for p in pts] == [
        (0.0, 0.5), (0.0, 1.0), (1e-3, 0.5), (1e-3, 1.0)]


def test_sweep_over_explicit_patches() -> None:
    d = base({"medium.patches": [[[1.0, 1.0], [1.0, 0.1]], [[2.0, 1.0], [1.0, 0.1]]]})
    d["medium"] = {"patches": [[1.0, 1.0]]}
    pts = expand_points(load_spec(d))
    assert [p.spec.medium.patches for p in pts] == [[(1.0, 1.0), (1.0, 0.1)],
                                                    [(2.0, 1.0), (1.0, 0.1)]]
    # a phase parameter makes no sense in an explicit medium
    d = base({"medium.high.kappa": [1.0, 2.0]})
    d["medium"] = {"patches": [[1.0, 1.0]]}
    err = spec_errors(d)[0]
    assert err["loc"] == 'sweep."medium.high.kappa"' and "medium.high is not set" in err["msg"]


def test_schema_paths_cover_pdf_parameters() -> None:
    paths = schema_paths()
    for p in ("kernel", "seed", "energy", "medium.high.patches.alpha", "medium.low.patches.width",
              "medium.kappa_perp", "euler.courant"):
        assert p in paths
    assert not any(p.startswith(("particles", "times", "sweep")) for p in paths)
