"""Client configuration: argument > PATCHWALK_* environment > default, read by pydantic-settings."""

from __future__ import annotations

import pytest
from patchwalk_client.client import DEFAULT_URL, Client, ClientSettings


def test_argument_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATCHWALK_URL", raising=False)
    monkeypatch.delenv("PATCHWALK_TOKEN", raising=False)
    with Client() as c:
        assert c.base_url == DEFAULT_URL and "authorization" not in c.http.headers
    monkeypatch.setenv("PATCHWALK_URL", "http://env.example:9/")
    monkeypatch.setenv("PATCHWALK_TOKEN", "env-token")
    assert ClientSettings().url == "http://env.example:9/"
    with Client() as c:
        assert c.base_url == "http://env.example:9"
        assert c.http.headers["authorization"] == "Bearer env-token"
    with Client("http://arg.example:8", token="arg-token") as c:
        assert c.base_url == "http://arg.example:8"
        assert c.http.headers["authorization"] == "Bearer arg-token"
    with Client(token="") as c:  # an explicit empty token means: send none
        assert "authorization" not in c.http.headers


def test_empty_environment_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWALK_URL", "")
    monkeypatch.setenv("PATCHWALK_TOKEN", "")
    with Client() as c:
        assert c.base_url == DEFAULT_URL and "authorization" not in c.http.headers
