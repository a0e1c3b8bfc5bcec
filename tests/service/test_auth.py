"""Bearer tokens: every route but health needs one; loopback-only binding without tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeBackend
from patchwalk_service.auth import check_bind, is_loopback, token_ok
from patchwalk_service.settings import ServiceSettings

from .test_routes import make_client


def test_tokens_required(tmp_path: Path, backend: FakeBackend) -> None:
    with make_client(tmp_path, backend, start=False, tokens=["s3cret", "other"]) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        for method, path in (
            ("GET", "/v1/sweeps"),
            ("POST", "/v1/sweeps"),
            ("GET", "/metrics"),
            ("GET", "/v1/sweeps/x"),
            ("DELETE", "/v1/sweeps/x"),
            ("GET", "/v1/sweeps/x/kappa"),
            ("GET", "/openapi.json"),
            ("GET", "/docs"),
        ):
            r = c.request(method, path)
            assert r.status_code == 401, (method, path)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"] == "Bearer"
        bad = c.get("/v1/sweeps", headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
        assert c.get("/v1/sweeps", headers={"Authorization": "Basic s3cret"}).status_code == 401
        ok = c.get("/v1/sweeps", headers={"Authorization": "Bearer other"})
        assert ok.status_code == 200
        r = c.post("/v1/sweeps", json={"points": 1}, headers={"Authorization": "bearer s3cret"})
        assert r.status_code == 202
        auth = {"Authorization": "Bearer s3cret"}
        assert "/v1/sweeps" in c.get("/openapi.json", headers=auth).json()["paths"]
        assert "swagger" in c.get("/docs", headers=auth).text.lower()


def test_no_tokens_no_auth(tmp_path: Path, backend: FakeBackend) -> None:
    with make_client(tmp_path, backend, start=False) as c:
        assert c.get("/v1/sweeps").status_code == 200
        assert c.get("/openapi.json").status_code == 200
        assert c.get("/docs").status_code == 200


def test_token_compare_and_bind_rules() -> None:
    assert token_ok("a", ["b", "a"]) and not token_ok("a", []) and not token_ok("ab", ["a"])
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    check_bind("127.0.0.1", [], False)
    check_bind("0.0.0.0", ["t"], False)
    check_bind("0.0.0.0", [], True)
    with pytest.raises(SystemExit, match="--insecure"):
        check_bind("0.0.0.0", [], False)


def test_tokens_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWALK_TOKENS", "a, b")
    monkeypatch.setenv("PATCHWALK_PORT", "8123")
    s = ServiceSettings()
    assert s.tokens == ["a", "b"] and s.port == 8123
    monkeypatch.setenv("PATCHWALK_TOKENS", '["x"]')
    assert ServiceSettings().tokens == ["x"]
