"""The sweep spec: validation messages, the three input formats, hashing, output times."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from patchwalk_client.errors import SpecError
from patchwalk_client.spec import SweepSpec, canonical_json, load_spec, parse_spec, spec_hash
from specs import small_spec, to_toml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir()
                  if p.suffix in (".toml", ".json", ".yaml", ".yml"))


def base() -> dict[str, Any]:
    """A small valid random two-phase spec."""
    return {"name": "t", "seed": 1, **small_spec()}


def explicit() -> dict[str, Any]:
    d = base()
    d["medium"] = {"patches": [[1.0, 1.0], [0.5, 0.02], [2.0, 0.5]]}
    return d


def errors_of(data: Any) -> list[dict[str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(data)
    assert isinstance(info.value, ValueError)
    return info.value.errors


def setp(d: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys = path.split(".")
    node = d
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return d


DELETE = object()

# (path to change, new value, expected loc, words the message must contain)
CASES = [
    ("medium.high.kappa", -1.0, "medium.high.kappa", ["> 0", "-1"]),
    ("medium.high.kappa", 0.0, "medium.high.kappa", ["> 0"]),
    ("medium.low.kappa", float("nan"), "medium.low.kappa", ["finite"]),
    ("medium.low.kappa", float("inf"), "medium.low.kappa", ["finite"]),
    ("medium.high.patches.l_min", 20.0, "medium.high.patches.l_max", ["l_min", "swap"]),
    ("medium.high.patches.l_max", float("inf"), "medium.high.patches.l_max", ["finite"]),
    ("medium.high.patches.pdf", "powerlaw", "medium.high.patches", ["power_law"]),
    ("medium.high.patches", {"pdf": "same"}, "medium.high.patches",
     ["only allowed for medium.low"]),
    ("medium.low.patches", {"pdf": "narrow", "mean": 2.0, "width": 4.0},
     "medium.low.patches.width", ["2*mean", "reduce width"]),
    ("medium.low.patches", {"pdf": "exponential", "mean": 2.0, "l_min": 3.0},
     "medium.low.patches.l_min", ["< mean"]),
    ("medium.low.patches", {"alpha": 2.0}, "medium.low.patches", ["pdf", "power_law"]),
    ("medium.length", 10.0, "medium.length", ["longest patch", "50"]),
    ("medium.length", DELETE, "medium.length", ["required", "50"]),
    ("medium.low", DELETE, "medium.low", ["required with medium.high"]),
    ("medium.patches", [[1.0, 1.0]], "medium.patches", ["not both"]),
    ("medium.kappa_perp", 0.1, "medium.kappa_perp", ["dimensions = 2"]),
    ("times.min", 1000.0, "times.max", ["times.min", "swap"]),
    ("times.max", DELETE, "times.max", ["required"]),
    ("times.values", [1.0, 1.0], "times.values", ["once"]),
    ("times.values", [1.0, -2.0], "times.values[1]", ["> 0"]),
    ("particles.count", 0, "particles.count", ["> 0"]),
    ("particles.count", 2.5, "particles.count", ["integer"]),
    ("seed", -3, "seed", [">= 0"]),
    ("energy", 0.0, "energy", ["> 0"]),
    ("kernel", "exakt", "kernel", ["'exact'", "did you mean"]),
    ("dimensions", 3, "dimensions", ["1", "2"]),
    ("euler.width", 5.0, "euler.width", ["shortest patch", "l_min/10"]),
    ("escape.distances", [1.0, -1.0], "escape.distances[1]", ["> 0"]),
    ("medium.high.patches.alfa", 2.0, "medium.high.patches.alfa", ["did you mean 'alpha'"]),
    ("medium.hgh", {}, "medium.hgh", ["did you mean 'high'"]),
    ("kernal", "exact", "kernal", ["did you mean 'kernel'"]),
    ("particles.per_tsk", 3, "particles.per_tsk", ["did you mean 'per_task'"]),
]


@pytest.mark.parametrize(("path", "value", "loc", "words"), CASES,
                         ids=[f"{c[0]}={c[1]!r}"[:50] for c in CASES])
def test_validation_error_names_field_and_fix(path: str, value: Any, loc: str,
                                               words: list[str]) -> None:
    errs = errors_of(setp(base(), path, value))
    matching = [e for e in errs if e["loc"] == loc]
    assert matching, errs
    for w in words:
        assert w in matching[0]["msg"], (w, matching[0]["msg"])


def test_power_law_alpha_below_one_needs_finite_l_max() -> None:
    d = setp(base(), "medium.high.patches", {"pdf": "power_law", "alpha": 0.5, "l_min": 1.0,
                                             "l_max": float("inf")})
    (err,) = errors_of(d)
    assert err["loc"] == "medium.high.patches.l_max"
    assert "alpha" in err["msg"] and "finite l_max" in err["msg"]


def test_explicit_patches_must_be_positive_pairs() -> None:
    d = explicit()
    d["medium"]["patches"] = [[1.0, 1.0], [0.5, -0.02]]
    assert [e["loc"] for e in errors_of(d)] == ["medium.patches[1][1]"]
    d["medium"]["patches"] = [[1.0, 1.0, 3.0]]
    assert errors_of(d)[0]["loc"].startswith("medium.patches[0]")
    d["medium"]["patches"] = []
    assert "at least one" in errors_of(d)[0]["msg"]
    d = explicit()
    d["medium"]["length"] = 10.0
    assert errors_of(d)[0]["loc"] == "medium.length"


def test_no_medium_at_all() -> None:
    d = base()
    d["medium"] = {}
    (err,) = errors_of(d)
    assert err["loc"] == "medium" and "medium.patches" in err["msg"]


def test_two_dimensions_need_kappa_perp_and_l_perp() -> None:
    d = base()
    d["dimensions"] = 2
    locs = {e["loc"] for e in errors_of(d)}
    assert locs == {"medium.kappa_perp", "medium.l_perp"}
    d["medium"].update(kappa_perp=-1.0, l_perp=1.0)
    assert errors_of(d)[0]["loc"] == "medium.kappa_perp"
    d["medium"].update(kappa_perp=0.0, l_perp=0.0)
    assert errors_of(d)[0]["loc"] == "medium.l_perp"
    d["medium"].update(kappa_perp=0.0, l_perp=0.5)
    spec = load_spec(d)
    assert spec.medium.kappa_perp == 0.0 and spec.kappa_perp_scaled() == 0.0


def test_per_task_larger_than_count_is_fine() -> None:
    d = setp(base(), "particles.per_task", 10_000)
    assert load_spec(d).particles.per_task == 10_000


def test_escape_stop_needs_distances_and_a_particle_kernel() -> None:
    assert errors_of(setp(base(), "escape.stop", True))[0]["loc"] == "escape.stop"
    d = setp(setp(base(), "escape.distances", [2.0]), "escape.stop", True)
    assert load_spec(d).escape.stop
    errs = errors_of(setp(dict(d), "kernel", "reference"))
    assert errs[0]["loc"] == "escape.stop" and "reference" in errs[0]["msg"]
    tol = setp(setp(dict(d), "particles.target_rel_err", 0.1), "particles.max_count", 200)
    assert "target_rel_err" in errors_of(tol)[0]["msg"]
    # the default leaves the hash of specs written before escape.stop unchanged
    plain = setp(base(), "escape.distances", [2.0])
    assert spec_hash(load_spec(plain)) == spec_hash(load_spec(setp(plain, "escape.stop", False)))
    assert '"stop"' not in canonical_json(load_spec(plain))


def test_spec_error_str_lists_every_error() -> None:
    d = setp(setp(base(), "seed", -1), "energy", -2.0)
    with pytest.raises(SpecError) as info:
        load_spec(d)
    text = str(info.value)
    assert "2 errors" in text and "seed:" in text and "energy:" in text


def test_from_pydantic() -> None:
    from patchwalk_client.schema import field_errors_from_pydantic
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        SweepSpec.model_validate(setp(base(), "medium.high.kappa", -1.0))
    err = SpecError(field_errors_from_pydantic(info.value, SweepSpec))
    assert err.errors[0]["loc"] == "medium.high.kappa"


def _as_toml(d: dict[str, Any]) -> str:
    return to_toml(load_spec(d))


def test_three_formats_give_equal_specs(tmp_path: Path) -> None:
    d = base()
    d["escape"] = {"distances": [2.0, 5.0]}
    d["sweep"] = {"energy": [1.0, 2.0], "zip": [{"seed": [1, 2], "medium.high.kappa": [1.0, 2.0]}]}
    texts = {"json": json.dumps(d), "yaml": yaml.safe_dump(d, sort_keys=False), "toml": _as_toml(d)}
    assert tomllib.loads(texts["toml"])  # really TOML
    specs = {fmt: load_spec(text) for fmt, text in texts.items()}
    for fmt, text in texts.items():
        f = tmp_path / f"spec.{fmt}"
        f.write_text(text)
        specs[f"file-{fmt}"] = load_spec(f)
        specs[f"str-{fmt}"] = load_spec(str(f))
    specs["dict"] = load_spec(d)
    specs["model"] = load_spec(load_spec(d))
    first = specs["dict"]
    for fmt, spec in specs.items():
        assert spec == first, fmt
        assert spec_hash(spec) == spec_hash(first), fmt


def test_yaml_exponent_without_dot_is_a_number() -> None:
    text = yaml.safe_dump(base()).replace("0.001", "1e-3")
    assert "1e-3" in text
    assert load_spec(text).medium.low is not None
    assert load_spec(text).medium.low.kappa == pytest.approx(1e-3)  # type: ignore[union-attr]


def test_unparseable_text_and_missing_file() -> None:
    errs = errors_of("this is = = not [a spec")
    assert "could not read" in errs[0]["msg"]
    errs = errors_of("/nonexistent/spec.toml")
    assert "not found" in errs[0]["msg"]


def _no_file_access(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way of touching the filesystem fail the test."""
    import builtins
    import io
    import os

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"parse_spec touched the filesystem: {args!r}")

    for name in ("read_text", "read_bytes", "open", "is_file", "exists", "stat"):
        monkeypatch.setattr(Path, name, refuse)
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    monkeypatch.setattr(os, "stat", refuse)


@pytest.mark.parametrize("media_type", [None, "text/plain", "application/toml",
                                        "application/yaml", "application/json"])
def test_parse_spec_never_reads_a_path(media_type: str | None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _no_file_access(monkeypatch)
    for text in ("/etc/hostname", "/proc/self/environ", "spec.yaml"):
        with pytest.raises(SpecError) as info:
            parse_spec(text, media_type=media_type)
        assert "could not read the spec text" in info.value.errors[0]["msg"]


def test_parse_spec_of_a_valid_spec_file_name_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "secret.yaml"
    f.write_text(yaml.safe_dump({**base(), "seed": 4242}))
    with pytest.raises(SpecError) as info:
        parse_spec(str(f), media_type="application/yaml")
    assert "4242" not in str(info.value)
    assert load_spec(f).seed == load_spec(str(f)).seed == 4242  # the client may read files
    text = yaml.safe_dump(base())
    assert parse_spec(text, media_type="application/yaml") == load_spec(text)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.particles.count <= 20_000
    assert load_spec(to_toml(spec)) == spec


def test_spec_hash_stable_and_sensitive() -> None:
    h = spec_hash(load_spec(base()))
    assert h == spec_hash(load_spec(base()))
    assert len(h) == 64 and int(h, 16) >= 0
    # an explicit default is the same spec
    assert spec_hash(load_spec(setp(base(), "kernel", "exact"))) == h
    # int/float spellings of a float field are the same spec
    assert spec_hash(load_spec(setp(base(), "medium.high.kappa", 1))) == h
    for path, value in [("seed", 2), ("medium.high.kappa", 1.0000001), ("times.count", 6),
                        ("kernel", "euler"), ("name", "u"), ("euler.drift", False)]:
        assert spec_hash(load_spec(setp(base(), path, value))) != h, path
    # the order of sweep axes sets the point order, so it is part of the identity
    a = setp(base(), "sweep", {"energy": [1.0, 2.0], "seed": [1, 2]})
    b = setp(base(), "sweep", {"seed": [1, 2], "energy": [1.0, 2.0]})
    assert spec_hash(load_spec(a)) != spec_hash(load_spec(b))
    # sweep values are held as their field's type
    c = setp(base(), "sweep", {"energy": [1, "2"], "seed": [1, 2]})
    assert spec_hash(load_spec(c)) == spec_hash(load_spec(a))


def test_output_times_log_spaced() -> None:
    spec = load_spec(base())
    t = spec.output_times()
    assert len(t) == 5 and t[0] == 0.1 and t[-1] == 100.0
    ratios = [b / a for a, b in zip(t, t[1:], strict=False)]
    assert all(math.isclose(r, 1000 ** 0.25, rel_tol=1e-12) for r in ratios)


def test_output_times_values_sorted() -> None:
    d = base()
    d["times"] = {"values": [10.0, 1.0, 3.0]}
    spec = load_spec(d)
    assert spec.output_times() == [1.0, 3.0, 10.0]
    assert (spec.times.min, spec.times.max, spec.times.count) == (1.0, 10.0, 3)
    d["times"] = {"values": [10.0, 1.0], "max": 5.0}
    assert errors_of(d)[0]["loc"] == "times.max"


def test_energy_scaling_of_phase_kappas() -> None:
    d = setp(setp(base(), "medium.high.beta", 2.0), "energy", 3.0)
    spec = load_spec(setp(d, "medium.low.beta", 0.5))
    assert spec.phase_kappas() == pytest.approx([1.0 * 3.0**2, 1e-3 * 3.0**0.5])


def test_patch_pdf_moments() -> None:
    from patchwalk_client.spec import ExponentialPdf, NarrowPdf, PowerLawPdf

    # mean of l^-alpha on [a, b] by a fine midpoint rule, compared with the closed forms
    for alpha in (1.0, 1.5, 2.0, 2.5, 3.5):
        pdf = PowerLawPdf(pdf="power_law", alpha=alpha, l_min=1.0, l_max=50.0)
        n, a, b = 200_000, math.log(1.0), math.log(50.0)
        xs = [math.exp(a + (i + 0.5) * (b - a) / n) for i in range(n)]  # log grid: dl = l du
        w = [x ** (1 - alpha) for x in xs]
        num = sum(x * wi for x, wi in zip(xs, w, strict=True))
        assert pdf.mean_length() == pytest.approx(num / sum(w), rel=1e-6), alpha
    narrow = NarrowPdf(pdf="narrow", mean=2.0, width=1.0)
    assert (narrow.shortest(), narrow.longest(), narrow.mean_length()) == (1.5, 2.5, 2.0)
    assert ExponentialPdf(pdf="exponential", mean=2.0, l_min=0.5).shortest() == 0.5


def test_one_table_of_kernel_names() -> None:
    """The spec's kernel names, its option tables and KERNEL_OPTIONS are one list."""
    from typing import get_args

    from patchwalk_client.options import KERNEL_OPTIONS, KernelName

    assert list(get_args(KernelName)) == list(KERNEL_OPTIONS)
    assert get_args(SweepSpec.model_fields["kernel"].annotation) == get_args(KernelName)
    for name, options in KERNEL_OPTIONS.items():
        assert SweepSpec.model_fields[name].annotation is options, name
        assert load_spec({**base(), "kernel": name}).kernel == name


def test_streaming_kernel_spec_rules_name_the_field() -> None:
    """The streaming kernel's own rules (its options table's spec_errors) name field and fix."""
    ok = load_spec({**base(), "kernel": "streaming", "streaming": {"v_str": 2.0}})
    assert ok.kernel_options().v_str == 2.0  # type: ignore[attr-defined]
    errs = errors_of({**explicit(), "kernel": "streaming"})
    assert any(e["loc"] == "medium.patches" and "two-phase" in e["msg"] for e in errs)
    two_d = {**base(), "kernel": "streaming", "dimensions": 2,
             "medium": {**base()["medium"], "kappa_perp": 0.1, "l_perp": 1.0}}
    assert any(e["loc"] == "dimensions" and "1D" in e["msg"] for e in errors_of(two_d))
    assert any(e["loc"] == "streaming.safety"
               for e in errors_of({**base(), "kernel": "streaming", "streaming": {"safety": 1}}))


def test_density_table_needs_the_reference_or_exact_kernel() -> None:
    assert load_spec({**base(), "kernel": "reference", "density": {"bins": 10}}).density
    assert load_spec({**base(), "kernel": "exact", "density": {"bins": 10}}).density
    errs = errors_of({**base(), "kernel": "euler", "density": {}})
    assert any(e["loc"] == "density" and "reference" in e["msg"] for e in errs)
