"""Hostile inputs: each one answered by a 4xx problem document, never a 5xx (issue 8, items 1, 7).

One real ``patchwalk serve`` (with a token) for the module; every input has its own test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_service import Service
from reliability_helpers import record

TOKEN = "tok-reliability"  # conftest's shared service
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 3,
    "medium": {"patches": [[1.0, 1.0], [0.5, 0.1]]},
    "particles": {"count": 200, "per_task": 100},
    "times": {"min": 0.01, "max": 1.0, "count": 4},
}


@pytest.fixture
def svc(shared_service: Service) -> Service:
    return shared_service


def _post(svc: Service, body: bytes | str, ctype: str = "application/json") -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return httpx.post(f"{svc.url}/v1/sweeps", content=data,
                      headers={**AUTH, "Content-Type": ctype}, timeout=60)


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"]
    return body


def test_json_nested_1000_deep(svc: Service) -> None:
    body = '{"name": ' + "[" * 1000 + "]" * 1000 + "}"
    _problem(_post(svc, body), 422)
    record("hostile: JSON nested 1000 deep", "422")


def test_yaml_and_toml_nested_deep(svc: Service) -> None:
    _problem(_post(svc, "a: " + "[" * 1000 + "]" * 1000, "application/yaml"), 422)
    _problem(_post(svc, "a = " + "[" * 1000 + "]" * 1000, "application/toml"), 422)


def test_lone_surrogate_in_name(svc: Service) -> None:
    body = json.dumps({**TINY, "name": "x"}).replace('"x"', '"\\ud800"')
    problem = _problem(_post(svc, body), 422)
    assert "surrogate" in problem["detail"]
    record("hostile: name '\\ud800'", "422")


def test_5000_digit_seed(svc: Service) -> None:
    body = json.dumps({**TINY, "seed": 0}).replace('"seed": 0', '"seed": ' + "9" * 5000)
    _problem(_post(svc, body), 422)
    toml = 'name = "x"\nseed = ' + "9" * 5000 + "\n"
    _problem(_post(svc, toml, "application/toml"), 422)
    record("hostile: 5000-digit seed", "422")


def test_oversized_sweeps_refused_before_any_work(svc: Service) -> None:
    """Points, tasks and output times are bounded before expansion or cost pilots run."""
    started = time.monotonic()
    cases = (
        ({**TINY, "sweep": {"seed": list(range(200)),
                             "energy": [1.0 + i / 100 for i in range(100)]}}, "sweep",
         "20000 points"),
        ({**TINY, "particles": {"count": 200_000_000, "per_task": 1}}, "particles.per_task",
         "tasks"),
        ({**TINY, "times": {"min": 0.01, "max": 1.0, "count": 10_000_000}}, "times.count",
         "100000"),
    )
    for spec, loc, word in cases:
        for query in ("", "?dry_run=1"):
            r = httpx.post(f"{svc.url}/v1/sweeps{query}", json=spec, headers=AUTH, timeout=60)
            body = _problem(r, 422)
            assert any(e["loc"] == loc for e in body["errors"]), body
            assert word in r.text, body
    elapsed = time.monotonic() - started
    record("hostile: 20 000 points, 2e8 tasks, 1e7 times", f"422 each ({elapsed:.1f} s for 6)")


def test_path_bodies_are_never_opened(svc: Service, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("seed: topsecret-seed-value\n")
    for body, ctype in ((str(secret), "application/yaml"), ("/etc/hostname", "text/plain"),
                        ("/proc/self/environ", "application/toml")):
        r = _post(svc, body, ctype)
        _problem(r, 422)
        assert "topsecret" not in r.text and TOKEN not in r.text


def test_body_over_limit(svc: Service) -> None:
    _problem(_post(svc, b"{" + b" " * 10_000_000 + b"}"), 413)


def test_unsupported_content_type(svc: Service) -> None:
    _problem(_post(svc, json.dumps(TINY), "application/x-www-form-urlencoded"), 415)


def test_lax_types_refused(svc: Service) -> None:
    body = json.dumps({**TINY, "euler": {"drift": 0}})
    _problem(_post(svc, body), 422)


def test_bad_auth_headers(svc: Service) -> None:
    variants = ["", "Bearer", "Bearer ", f"bearer{TOKEN}", f"Basic {TOKEN}", "Bearer wrong",
                f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer \u00e9", f"Token {TOKEN}"]
    for v in variants:
        headers = {"Authorization": v} if v else {}
        try:
            r = httpx.get(f"{svc.url}/v1/sweeps", headers=headers, timeout=10)
        except (httpx.LocalProtocolError, UnicodeEncodeError):
            continue  # not sendable as a header at all
        _problem(r, 401)
    record("hostile: bad Authorization headers answered 401", f"{len(variants)}/{len(variants)}")


def test_huge_offset_and_unknown_state(svc: Service) -> None:
    _problem(httpx.get(f"{svc.url}/v1/sweeps?offset={10**30}", headers=AUTH), 422)
    _problem(httpx.get(f"{svc.url}/v1/sweeps?state=nope", headers=AUTH), 422)


def test_wrong_method_lists_allowed_methods(svc: Service) -> None:
    r = httpx.put(f"{svc.url}/v1/sweeps/0123456789abcdef", headers=AUTH)
    _problem(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "DELETE"}


def test_mathtext_in_plot_title(svc: Service) -> None:
    r = _post(svc, json.dumps({**TINY, "name": r"$\frac{$ and $x^{$"}))
    assert r.status_code in (200, 202), r.text
    sweep_id = r.json()["id"]
    deadline = time.monotonic() + 120
    state = ""
    while time.monotonic() < deadline:
        state = httpx.get(f"{svc.url}/v1/sweeps/{sweep_id}", headers=AUTH).json()["state"]
        if state in ("done", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert state == "done"
    png = httpx.get(f"{svc.url}/v1/sweeps/{sweep_id}/plot.png", headers=AUTH, timeout=60)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    record("hostile: mathtext sweep name, plot.png", "200")
