"""Corruption (item 3): a flipped bit, a truncated and a deleted chunk are found, never served.

A store computed in this process (``execute_task``, the unit the cluster runs) is damaged
three ways; ``patchwalk verify`` names exactly those tasks (exit 1), summaries refuse to reduce
over them, resuming recomputes exactly them, and the repaired store is bitwise the original.
A store written before checksums still opens and verifies for missing/undecodable chunks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from patchwalk_client.spec import parse_spec
from patchwalk_worker import integrity
from patchwalk_worker import store as store_module
from patchwalk_worker.execute import execute_task
from patchwalk_worker.integrity import IntegrityError, verify_store
from patchwalk_worker.store import SweepStore
from reliability_helpers import SMALL_SPEC, record, values_digest
from zarr.codecs import ZstdCodec

CLI = [sys.executable, "-m", "patchwalk_client.cli"]


def _compute(path: Path) -> SweepStore:
    store = SweepStore.create_or_open(path, parse_spec(SMALL_SPEC))
    for p, k in store.pending():
        execute_task(str(path), p, k)
    return store


def _chunk(path: Path, name: str, p: int, k: int) -> Path:
    files = [f for f in (path / "tasks" / name / "c" / str(p) / str(k)).rglob("*") if f.is_file()]
    leaf = path / "tasks" / name / "c" / str(p) / str(k)
    return leaf if leaf.is_file() else files[0]


def test_flip_truncate_delete_detected_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    _compute(path)
    SweepStore.open(path, mode="r+").write_summaries()
    original = values_digest(path)
    flips_found = 0
    # every single-bit flip of one sums chunk is found (crc32c finds every 1-bit error)
    victim = _chunk(path, "sums", 0, 1)
    raw = victim.read_bytes()
    store = SweepStore.open(path)
    for i in range(len(raw)):
        victim.write_bytes(raw[:i] + bytes([raw[i] ^ 0x10]) + raw[i + 1:])
        flips_found += integrity.task_problem(store, 0, 1) is not None
    victim.write_bytes(raw[: len(raw) // 2])                       # truncated
    trunc = _chunk(path, "esc", 1, 2)
    trunc.write_bytes(trunc.read_bytes()[:-5])                      # truncated again
    _chunk(path, "realisation", 1, 4).unlink()                      # deleted
    out = subprocess.run([*CLI, "verify", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    report = verify_store(SweepStore.open(path))
    assert sorted(report.bad) == [(0, 1), (1, 2), (1, 4)] and report.checksummed
    with pytest.raises(IntegrityError) as refused:
        SweepStore.open(path, mode="r+").write_summaries()
    assert refused.value.bad == [(0, 1), (1, 2), (1, 4)]
    assert SweepStore.open(path).pending() == [(0, 1), (1, 2), (1, 4)]  # resume recomputes them
    out = subprocess.run([*CLI, "verify", str(path), "--repair"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "3 recomputed" in out.stdout, out.stdout + out.stderr
    assert values_digest(path) == original
    assert verify_store(SweepStore.open(path)).ok
    record("corruption: single-bit flips of one chunk found", f"{flips_found}/{len(raw)}")
    record("corruption: flip + truncation + deletion", "3/3 found; repaired bitwise identical")
    assert flips_found == len(raw)


def test_resume_recomputes_a_corrupt_task(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    _compute(path)
    original = values_digest(path)
    victim = _chunk(path, "sums", 1, 0)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    assert SweepStore.open(path).pending() == [(1, 0)]
    execute_task(str(path), 1, 0)   # a done-but-corrupt task is computed again, not skipped
    assert values_digest(path) == original and SweepStore.open(path).pending() == []


def test_store_without_checksums_still_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setattr(store_module, "CHUNK_CODECS", (ZstdCodec(level=0, checksum=False),))
    path = tmp_path / "old.zarr"
    _compute(path)
    monkeypatch.undo()
    report = verify_store(SweepStore.open(path))
    assert report.ok and not report.checksummed
    _chunk(path, "sums", 0, 0).unlink()
    assert sorted(verify_store(SweepStore.open(path)).bad) == [(0, 0)]
    record("store without checksums", "opens; missing/undecodable chunks found, bit flips not")


def test_every_per_task_array_is_verified(tmp_path: Path) -> None:
    """``esc_reference`` and the point-source ``hist`` are checked like ``sums``: a deleted or
    flipped chunk of either marks exactly its task as bad."""
    spec = {**SMALL_SPEC, "particles": {"count": 400, "per_task": 200},
            "times": {"min": 0.01, "max": 3.0, "count": 3}, "density": {"bins": 20},
            "sweep": {}}
    path = tmp_path / "h.zarr"
    store = SweepStore.create_or_open(path, parse_spec(spec))
    for p, k in store.pending():
        execute_task(str(path), p, k)
    assert verify_store(SweepStore.open(path)).ok
    _chunk(path, "hist", 0, 1).unlink()
    ref = _chunk(path, "esc_reference", 0, 0)
    raw = ref.read_bytes()
    ref.write_bytes(raw[:8] + bytes([raw[8] ^ 0x01]) + raw[9:])
    report = verify_store(SweepStore.open(path))
    assert set(report.bad) == {(0, 0), (0, 1)}, report.bad
    assert "hist" in report.bad[(0, 1)] and "esc_reference" in report.bad[(0, 0)]
    record("corruption: esc_reference flip, hist chunk deleted", "both found")
