"""The batch scaling policy and the worker-event counters, without a cluster."""

from __future__ import annotations

import pytest
from patchwalk_service.jobqueue import lifetime_for, parse_walltime
from patchwalk_service.scaling import QueuePolicy, WorkerEvents, task_sweep


def _policy(**kw: object) -> QueuePolicy:
    args: dict[str, object] = {"cores_per_job": 2, "min_jobs": 0, "max_jobs": 4,
                               "idle_release": 30.0}
    args.update(kw)
    return QueuePolicy(None, **args)  # type: ignore[arg-type]


def test_scales_up_at_once_within_bounds() -> None:
    p = _policy()
    assert p.decide(0, 0.0) == 0
    assert p.decide(3, 1.0) == 2  # ceil(3 tasks / 2 cores)
    assert p.decide(100, 2.0) == 4  # max_jobs
    assert _policy(min_jobs=1).decide(0, 0.0) == 1


def test_never_releases_while_work_is_queued() -> None:
    """dask-jobqueue #701: a running sweep must not lose its workers as its queue drains."""
    p = _policy()
    p.decide(8, 0.0)
    for t in range(1, 200):
        assert p.decide(1, float(t)) == 4  # one task left: still every job
    assert p.releases == 0


def test_releases_after_the_queue_stayed_empty() -> None:
    p = _policy(min_jobs=1)
    p.decide(8, 0.0)
    assert p.decide(0, 10.0) == 4  # empty since t = 10
    assert p.decide(0, 39.9) == 4  # 29.9 s: not yet
    assert p.decide(2, 40.0) == 4  # work again: the idle clock restarts
    assert p.decide(0, 41.0) == 4
    assert p.decide(0, 70.9) == 4
    assert p.decide(0, 71.0) == 1  # 30 s empty: down to min_jobs
    assert p.releases == 1
    assert p.decide(5, 72.0) == 3  # and up again


def test_bad_bounds_name_the_options() -> None:
    with pytest.raises(ValueError, match="--min-jobs/--max-jobs"):
        _policy(min_jobs=5, max_jobs=2)


def test_worker_events_count_lost_retired_and_recomputed() -> None:
    ev = WorkerEvents()
    ev.add_worker(None, "tls://a:1")
    ev.log_event("all", {"action": "remove-worker", "expected": False, "worker": "tls://a:1",
                         "processing-tasks": {"pw-abc123-0-4-ff00aa11"},
                         "lost-computed-tasks": {"pw-abc123-0-1-00ff00ff"},
                         "stimulus_id": "handle-worker-cleanup-1"})
    ev.log_event("all", {"action": "remove-worker", "expected": True, "worker": "tls://b:1",
                         "processing-tasks": {"pw-abc123-1-0-00aa11ff", "other-key"},
                         "lost-computed-tasks": set(), "stimulus_id": "retire-workers-2"})
    ev.log_event("tls://a:1", {"action": "remove-worker", "expected": False})  # per-worker copy
    ev.log_event("all", {"action": "add-worker"})
    snap = ev.snapshot()
    assert snap["workers_lost"] == 1 and snap["workers_retired"] == 1
    assert snap["tasks_recomputed"] == 3 and snap["results_lost"] == 1
    assert snap["tasks_recomputed_by_sweep"] == {"abc123": 2}
    assert [r["running"] for r in snap["removals"]] == [1, 2]


def test_task_sweep() -> None:
    assert task_sweep("pw-0123abcd-3-7-deadbeef") == "0123abcd"
    assert task_sweep("pw-0123abcd-3-7") == "0123abcd"
    assert task_sweep("execute_task-1234") is None


@pytest.mark.parametrize(("text", "seconds"), [
    ("02:00:00", 7200), ("30", 1800), ("05:30", 330), ("1-00", 86400),
    ("1-02:03", 93780), ("2-00:00:10", 172810), ("00:01:00", 60), (90, 5400),
])
def test_parse_walltime(text: str | int, seconds: float) -> None:
    assert parse_walltime(text) == seconds


def test_parse_walltime_error_shows_the_forms() -> None:
    with pytest.raises(ValueError, match="HH:MM:SS"):
        parse_walltime("two hours")


@pytest.mark.parametrize("walltime", [60, 120, 600, 1800, 3600, 7200, 86400, 7 * 86400])
def test_lifetime_always_ends_before_the_walltime(walltime: int) -> None:
    life, stagger = lifetime_for(walltime)
    assert stagger > 0 and life > walltime / 2
    # the latest exit (lifetime + stagger) leaves >= 15 s for start-up and a graceful close
    assert life + stagger <= walltime - 15
    assert walltime - (life + stagger) <= 600 + 1e-9  # but never wastes more than 10 min


def test_lifetime_refuses_a_useless_walltime() -> None:
    with pytest.raises(ValueError, match="00:01:00"):
        lifetime_for(30)
