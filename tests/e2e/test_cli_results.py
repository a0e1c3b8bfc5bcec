"""Every result on the command line: `patchwalk run/show --what ... --json/--csv`, file and
scheduler errors in one line, a closed pipe — all through real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from specs_2d import spec_2d

CLI = [sys.executable, "-m", "patchwalk_client.cli"]

SPEC_2D = spec_2d("cli-2d")


def patchwalk(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli2d")
    spec = tmp / "spec.toml"
    spec.write_text(SPEC_2D)
    out = tmp / "s.zarr"
    r = patchwalk("run", str(spec), "--out", str(out), "--workers", "1", "--what", "escape",
                  "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["point", "medium.kappa_perp", "distance", "fraction", "mean_time",
                       "mean_time_err", "rate", "rate_err", "mean_rate", "mean_rate_err",
                       "mean_rate_upper", "rate_eq8"]
    assert [(row[1], row[2]) for row in rows[1:]] == [("0.0", "2.0"), ("0.0", "5.0"),
                                                      ("0.1", "2.0"), ("0.1", "5.0")]
    return out


@pytest.mark.slow
def test_show_prints_kappa_kappa2d_and_escape(store: Path) -> None:
    r = patchwalk("show", str(store))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "kappa(t)" in out and "kappa_2D = " in out and "escape" in out
    # the converged flag is printed as it is, with what to do when it is not
    flags = json.loads(patchwalk("show", str(store), "--what", "kappa2d", "--json").stdout)
    for p in flags["points"]:
        assert ("NOT converged" in out) == (not all(q["converged"] for q in flags["points"]))
        assert isinstance(p["converged"], bool)
    # output times as the spec gave them
    assert "\n          0.01  " in out and "0.010000000000000002" not in out


@pytest.mark.slow
@pytest.mark.parametrize("what", ["kappa2d", "escape", "theory"])  # kappa: test_run_cli
def test_every_result_as_json_and_csv(store: Path, what: str) -> None:
    doc = json.loads(patchwalk("show", str(store), "--what", what, "--json").stdout)
    assert len(doc["points"]) == 2
    assert [p["params"] for p in doc["points"]] == [{"medium.kappa_perp": 0.0},
                                                    {"medium.kappa_perp": 0.1}]
    rows = list(csv.reader(io.StringIO(
        patchwalk("show", str(store), "--what", what, "--csv").stdout)))
    assert rows[0][:2] == ["point", "medium.kappa_perp"]
    if what == "theory":
        assert rows[0][2] == "t" and [r[2] for r in rows[1:6]] == ["0.01", "0.1", "1.0",
                                                                     "10.0", "100.0"]
        assert len(rows) == 1 + 2 * 5
    if what == "theory":
        th = doc["points"][0]
        # eq. (7) holds for l_min^2 <= kappa_high t: null before, with the reason
        assert th["curves"]["scaling_7"][0] is None
        assert th["validity"]["scaling_7"]["t_min"] == pytest.approx(1.0)
        assert "eq. (7)" in th["validity"]["scaling_7"]["reason"]
        kh = th["curves"]["kappa_H"][0]
        assert all(v is None or v >= kh for v in th["curves"]["c7"])
    if what == "escape":
        assert all(len(p["rate_eq8"]) == 2 for p in doc["points"])


@pytest.mark.slow
def test_kappa2d_of_a_1d_sweep_and_a_closed_pipe(tmp_path: Path) -> None:
    spec = tmp_path / "one.json"  # any extension: the spec is read from the file
    spec.write_text(json.dumps({
        "name": "pipe", "seed": 1, "medium": {"patches": [[1.0, 1.0], [1.0, 0.1]]},
        "particles": {"count": 50, "per_task": 50}, "times": {"min": 0.1, "max": 1.0,
                                                              "count": 400}}))
    out = tmp_path / "o.zarr"
    r = patchwalk("run", str(spec), "--out", str(out), "--workers", "1", "--what", "kappa2d")
    assert r.returncode == 2 and "one-dimensional" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and not out.exists()  # said before anything runs
    r = patchwalk("run", str(spec), "--out", str(out), "--workers", "1")
    assert r.returncode == 0, r.stderr
    r = patchwalk("show", str(out), "--what", "kappa2d")
    assert r.returncode == 2 and r.stderr.count("one-dimensional") == 1, r.stderr
    # `patchwalk show STORE --csv | head -1`: no BrokenPipeError traceback
    p = subprocess.run(f"{' '.join(CLI)} show {out} --csv --what theory | head -1",
                       shell=True, capture_output=True, text=True, timeout=120)
    assert p.stdout.startswith("point,t,") and "Traceback" not in p.stderr, p.stderr


@pytest.mark.parametrize("case", ["missing", "directory", "empty"])
def test_spec_file_problems_in_one_line(tmp_path: Path, case: str) -> None:
    path = tmp_path / "spec.cfg"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_text("  \n")
    want = {"missing": "file not found", "directory": "is a directory", "empty": "is empty"}
    for cmd in (["run"], ["submit", "--url", "http://127.0.0.1:9"]):
        r = patchwalk(*cmd, str(path))
        assert r.returncode == 2, (cmd, r.stderr)
        assert want[case] in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_unreachable_scheduler_and_zero_workers_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC_2D)
    r = patchwalk("run", str(spec), "--scheduler", "tcp://127.0.0.1:1", timeout=60)
    assert r.returncode == 2 and "cannot reach the Dask scheduler" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    r = patchwalk("serve", "--scheduler", "tcp://127.0.0.1:1", "--port", "0", timeout=60)
    assert r.returncode == 2 and "cannot reach the Dask scheduler" in r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    r = patchwalk("run", str(spec), "--workers", "0")
    assert r.returncode == 2 and "workers" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_energy_example_shows_what_it_says() -> None:
    """examples/energy.yaml: complete escape; 1/<t_esc> ~ E^(1/2)-ish for both alphas (slope well
    below 1), while eq. (8) steepens towards E^2 for alpha = 1.5."""
    root = Path(__file__).resolve().parents[2]
    r = patchwalk("run", str(root / "examples" / "energy.yaml"), "--workers", "2",
                  "--what", "escape", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    pts = json.loads(r.stdout)["points"]
    assert all(f == 1.0 for p in pts for f in p["fraction"])
    by = {(p["params"]["medium.high.patches.alpha"], p["params"]["energy"]): p for p in pts}
    for alpha in (1.5, 2.5):
        lo, hi = by[(alpha, 0.25)], by[(alpha, 4.0)]
        for j in range(2):
            slope = math.log(hi["rate"][j] / lo["rate"][j]) / math.log(16.0)
            err = math.hypot(hi["rate_err"][j] / hi["rate"][j],
                             lo["rate_err"][j] / lo["rate"][j]) / math.log(16.0)
            assert 0.5 - 5 * err < slope < 1.0 - 5 * err, (alpha, j, slope, err)
    eq8 = by[(1.5, 4.0)]["rate_eq8"][1] / by[(1.5, 0.25)]["rate_eq8"][1]
    assert math.log(eq8) / math.log(16.0) > 1.5
