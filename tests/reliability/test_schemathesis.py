"""Schemathesis from the live schema: every default check, stateful links, spec bodies included.

A real ``patchwalk serve`` with a bearer token; ``st run`` (the schemathesis CLI) on its
``/openapi.json`` with ``schemathesis.toml`` beside this file (two documented exceptions).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
from live_service import Service
from reliability_helpers import record

HERE = Path(__file__).parent
ST = Path(sys.executable).with_name("st")
TOKEN = "tok-reliability"  # conftest's shared service


def test_schemathesis_live_schema(shared_service: Service, tmp_path: Path) -> None:
    out = subprocess.run(
        [str(ST), "--config-file", str(HERE / "schemathesis.toml"), "run",
         f"{shared_service.url}/openapi.json", "-H", f"Authorization: Bearer {TOKEN}",
         "--max-examples", "40", "--seed", "1", "--phases",
         "examples,coverage,fuzzing,stateful", "--no-color"],
        capture_output=True, text=True, timeout=400, check=False, cwd=tmp_path,
    )
    text = out.stdout
    m = re.search(r"(\d+) generated", text)
    generated = int(m.group(1)) if m else 0
    failures = re.findall(r"❌ (ST\d+ [^:]+): (\d+)", text)
    server_errors = sum(int(n) for name, n in failures if name.startswith("ST101"))
    stateful = re.search(r"Scenarios:\s+(\d+)", text)
    record("schemathesis: test cases generated", generated)
    record("schemathesis: stateful scenarios", stateful.group(1) if stateful else "0")
    record("schemathesis: server errors", server_errors)
    record("schemathesis: conformance failures", sum(int(n) for _, n in failures))
    assert out.returncode == 0, text[-6000:]
    assert generated >= 1000, text[-3000:]
    assert stateful is not None and int(stateful.group(1)) > 0, text[-3000:]
    # stop what the generated submissions queued: CPU for the rest of the suite
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for state in ("queued", "running"):
        page = httpx.get(f"{shared_service.url}/v1/sweeps?state={state}&limit=1000",
                         headers=auth, timeout=30).json()
        for item in page["items"]:
            httpx.delete(f"{shared_service.url}/v1/sweeps/{item['id']}", headers=auth, timeout=30)
