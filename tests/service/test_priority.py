"""Compute workers at a lower CPU priority than the service (issue 8, overload).

:func:`lower_priority` runs in a child process (nice values cannot be raised back without
privileges); the embedded cluster of :func:`open_cluster` is checked thread by thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from patchwalk_service.cluster import open_cluster
from patchwalk_service.priority import WORKER_NICE, LowPriority, lower_priority, thread_nice_values
from patchwalk_service.settings import ServiceSettings

linux_only = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux /proc")


@linux_only
def test_every_thread_is_lowered_and_new_threads_inherit() -> None:
    code = textwrap.dedent("""
        import json, os, threading
        from patchwalk_service.priority import lower_priority, thread_nice_values
        stop = threading.Event()
        threads = [threading.Thread(target=stop.wait) for _ in range(3)]
        for t in threads:
            t.start()
        before = thread_nice_values()
        n = lower_priority(7)
        again = lower_priority(7)  # idempotent: nothing left to lower
        late = []
        t = threading.Thread(target=lambda: late.append(os.getpriority(os.PRIO_PROCESS, 0)))
        t.start(); t.join()
        after = thread_nice_values()
        stop.set()
        print(json.dumps([before, n, again, after, late]))
    """)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base > 7:
        pytest.skip(f"the tests already run at nice {base}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    before, n, again, after, late = json.loads(out)
    assert len(before) >= 4 and set(before) == {base}  # main, the three above, maybe more
    assert n >= 4 and again == 0
    assert len(after) >= 4 and set(after) == {7} and late == [7]
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the caller is untouched


def test_bounds_are_checked() -> None:
    for bad in (-1, 20):
        with pytest.raises(ValueError, match="0..19"):
            lower_priority(bad)
        with pytest.raises(ValueError, match="0..19"):
            LowPriority(bad)


@linux_only
def test_embedded_workers_run_below_the_service(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= WORKER_NICE:
        pytest.skip(f"the tests already run at nice {base}")
    session = open_cluster(ServiceSettings(workers=1, data_dir=tmp_path / "data"), ())
    try:
        values = session.client.run(thread_nice_values)
        assert len(values) == 1
        (nices,) = values.values()
        assert nices and min(nices) >= WORKER_NICE, nices
        # a task runs on a worker thread at that priority too
        task = session.client.submit(os.getpriority, os.PRIO_PROCESS, 0, pure=False)
        assert task.result(timeout=60) >= WORKER_NICE
        assert set(thread_nice_values()) == {base}  # the service process is not lowered
    finally:
        session.close()


def test_the_switch_interval_is_shortened_while_serving_only() -> None:
    import sys

    from patchwalk_service.priority import SWITCH_INTERVAL, responsive_interpreter

    before = sys.getswitchinterval()
    with responsive_interpreter():
        assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL))
        with responsive_interpreter(1.0):  # never lengthened
            assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL))
    assert sys.getswitchinterval() == before
