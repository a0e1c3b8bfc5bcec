"""The gallery specs (examples/gallery, issue 11) load with the spec loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from patchwalk_client.errors import SpecError
from patchwalk_client.spec import load_spec

GALLERY = Path(__file__).resolve().parents[2] / "examples" / "gallery"


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig4", "fig5", "figD1"])
def test_gallery_spec_loads(name: str) -> None:
    spec = load_spec(GALLERY / f"{name}.toml")
    assert spec.name == f"gallery-{name}"


def test_appE_needs_only_the_streaming_kernel() -> None:
    # written for the schema of docs/gallery-integration.md; until then exactly two errors
    try:
        spec = load_spec(GALLERY / "appE.toml")
    except SpecError as exc:
        text = str(exc)
        assert "streaming" in text and "2 errors" in text, text
    else:  # the schema has been extended
        assert spec.kernel == "streaming"
