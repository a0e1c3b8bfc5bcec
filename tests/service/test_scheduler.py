"""Scheduler: FIFO, fair share, bounded in-flight, cancellation, failure, restart recovery."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeBackend, ManualRunner
from patchwalk_service.registry import Registry
from patchwalk_service.scheduler import Scheduler


def _add(reg: Registry, backend: FakeBackend, **spec: object) -> str:
    plan = backend.plan(spec)
    rec, _ = reg.create_or_get(
        spec_hash=plan.spec_hash,
        name=plan.name,
        spec=plan.spec,
        n_points=plan.n_points,
        tasks_total=plan.tasks_total,
    )
    return rec.id


def test_small_sweep_behind_huge_one_is_not_starved(tmp_path: Path, backend: FakeBackend) -> None:
    reg = Registry(tmp_path / "r.db")
    runner = ManualRunner()
    big = _add(reg, backend, name="big", points=50, tasks=4)
    small = _add(reg, backend, name="small", points=2, tasks=2)
    sched = Scheduler(reg, backend, runner, max_in_flight=3, max_running=2, poll=0.01)
    sched.run_until_idle(timeout=30)
    order = [s for s, _, _ in backend.submitted]
    last_small = max(i for i, s in enumerate(order) if s == small)
    # round-robin over 3 slots: the 4 small tasks are dealt within the first 2*4 submissions
    assert last_small < 8, order[:12]
    assert order.count(big) == 200 and order.count(small) == 4
    assert reg.get(big).state == "done" and reg.get(small).state == "done"  # type: ignore[union-attr]
    assert sorted(backend.finalized) == sorted([big, small])
    assert reg.get(big).tasks_done == 200  # type: ignore[union-attr]


def test_in_flight_is_bounded_and_fifo_beyond_max_running(
    tmp_path: Path, backend: FakeBackend
) -> None:
    reg = Registry(tmp_path / "r.db")
    runner = ManualRunner()
    a = _add(reg, backend, name="a", points=3, tasks=2)
    b = _add(reg, backend, name="b", points=3, tasks=2)
    c = _add(reg, backend, name="c", points=1, tasks=1)
    sched = Scheduler(reg, backend, runner, max_in_flight=2, max_running=1, poll=0.01)
    sched._activate()
    sched._fill()
    assert len(runner.pending) == 2 and sched.in_flight() == 2
    assert reg.get(b).state == "queued"  # type: ignore[union-attr]
    sched.run_until_idle(timeout=30)
    order = [s for s, _, _ in backend.submitted]
    assert order == [a] * 6 + [b] * 6 + [c]


def test_cancel_stops_scheduling_and_cancels_in_flight(
    tmp_path: Path, backend: FakeBackend
) -> None:
    reg = Registry(tmp_path / "r.db")
    runner = ManualRunner()
    sid = _add(reg, backend, points=10, tasks=2)
    sched = Scheduler(reg, backend, runner, max_in_flight=4, poll=0.01)
    for _ in range(3):
        sched.step()
    submitted = len(backend.submitted)
    in_flight = [h["key"] for h in runner.pending]
    assert reg.set_state(sid, "cancelled", only_from=("queued", "running"))
    sched.request_cancel(sid)
    sched.run_until_idle(timeout=10)
    assert len(backend.submitted) == submitted < 20
    assert set(in_flight) <= set(runner.cancelled)
    assert reg.get(sid).state == "cancelled"  # type: ignore[union-attr]
    assert backend.finalized == []


def test_failed_task_marks_the_sweep_failed(tmp_path: Path, backend: FakeBackend) -> None:
    reg = Registry(tmp_path / "r.db")
    runner = ManualRunner()
    bad = _add(reg, backend, name="bad", points=2, tasks=2)
    good = _add(reg, backend, name="good", points=1, tasks=2)
    backend.failing = {bad}
    sched = Scheduler(reg, backend, runner, max_in_flight=2, poll=0.01)
    sched.run_until_idle(timeout=10)
    rec = reg.get(bad)
    assert rec is not None and rec.state == "failed"
    assert rec.error is not None and "boom" in rec.error and "RuntimeError" in rec.error
    assert reg.get(good).state == "done"  # type: ignore[union-attr]
    assert sched.tasks_failed == 1 and sched.sweeps_failed == 1


def test_restart_resumes_without_recomputing(tmp_path: Path, backend: FakeBackend) -> None:
    reg = Registry(tmp_path / "r.db")
    sid = _add(reg, backend, points=3, tasks=3)
    runner = ManualRunner()
    sched = Scheduler(reg, backend, runner, max_in_flight=2, poll=0.01)
    for _ in range(4):
        sched.step()
    done_before = set(backend.done[sid])
    assert 0 < len(done_before) < 9
    assert reg.get(sid).state == "running"  # type: ignore[union-attr]
    # "kill": drop the scheduler and the runner, reopen the registry from disk
    del sched, runner
    reg.close()
    reg2 = Registry(tmp_path / "r.db")
    backend.executed.clear()
    sched2 = Scheduler(reg2, backend, ManualRunner(), max_in_flight=2, poll=0.01)
    sched2.run_until_idle(timeout=10)
    rec = reg2.get(sid)
    assert rec is not None and rec.state == "done" and rec.tasks_done == 9
    rerun = {(p, t) for _, p, t in backend.executed}
    assert rerun.isdisjoint(done_before)
    assert rerun | done_before == {(p, t) for p in range(3) for t in range(3)}


def test_background_thread_runs_to_done(tmp_path: Path, backend: FakeBackend) -> None:
    from patchwalk_service.runners import ThreadRunner

    reg = Registry(tmp_path / "r.db")
    sid = _add(reg, backend, points=4, tasks=3)
    runner = ThreadRunner(2)
    sched = Scheduler(reg, backend, runner, max_in_flight=3, poll=0.02)
    sched.start()
    try:
        import time

        deadline = time.monotonic() + 20
        while reg.get(sid).state != "done" and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)
    finally:
        sched.stop()
        runner.close()
    rec = reg.get(sid)
    assert rec is not None and rec.state == "done" and rec.tasks_done == 12
    assert rec.steps_per_second is not None and rec.steps_per_second > 0


def test_a_task_is_retried_then_the_sweep_fails(tmp_path: Path, backend: FakeBackend) -> None:
    from patchwalk_service.scheduler import RETRIES, task_key

    reg = Registry(tmp_path / "r.db")
    runner = ManualRunner()
    backend.fail_first = RETRIES  # every task raises on all but its last allowed attempt
    sid = _add(reg, backend, name="flaky", points=2, tasks=2)
    sched = Scheduler(reg, backend, runner, max_in_flight=2, poll=0.01)
    keys: list[str] = []
    submit = runner.submit
    runner.submit = lambda fn, *args, key: keys.append(key) or submit(fn, *args, key=key)  # type: ignore[method-assign]
    sched.run_until_idle(timeout=10)
    rec = reg.get(sid)
    assert rec is not None and rec.state == "done" and rec.tasks_done == 4
    assert sched.tasks_retried == 4 * RETRIES and sched.tasks_failed == 0
    assert sorted(keys) == sorted(
        task_key(sid, p, t, a) for p in range(2) for t in range(2) for a in range(RETRIES + 1)
    )
    backend.fail_first = RETRIES + 1
    other = _add(reg, backend, name="too-flaky", points=1, tasks=1)
    sched.run_until_idle(timeout=10)
    rec = reg.get(other)
    assert rec is not None and rec.state == "failed" and "boom" in str(rec.error)
    assert sched.tasks_failed == 1 and sched.sweeps_failed == 1


def test_the_registry_keeps_the_order_of_the_sweep_axes(tmp_path: Path) -> None:
    """The axes' order is the points' order, and part of the spec hash: a stored spec keeps it."""
    reg = Registry(tmp_path / "r.db")
    spec = {"name": "order", "sweep": {"zeta": [1, 2], "alpha": [3, 4]}}
    rec, _ = reg.create_or_get(spec_hash="f" * 64, name="order", spec=spec, n_points=4,
                               tasks_total=4)
    assert list(rec.spec["sweep"]) == ["zeta", "alpha"]
    reg.close()
    assert list(Registry(tmp_path / "r.db").get(rec.id).spec["sweep"]) == ["zeta", "alpha"]  # type: ignore[union-attr]
