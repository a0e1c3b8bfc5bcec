"""Where tasks run: a Dask cluster (the service default) or a thread pool (tests).

The scheduler only needs these few operations, so both fit one small protocol.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class TaskRunner(Protocol):
    """Submits task calls and reports which finished."""

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        """Start ``fn(*args)``; returns a handle."""

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        """Handles among ``handles`` that finished (waits up to ``timeout`` s for one)."""

    def result(self, handle: Any) -> Any:
        """The task's return value (raises the task's exception); called once per handle."""

    def cancel(self, handles: Iterable[Any]) -> None:
        """Cancel unfinished tasks (best effort)."""

    def close(self) -> None:
        """Release the resources."""

    def workers(self) -> int:
        """Workers that run tasks at once (sets the default number of tasks in flight)."""

    def info(self) -> dict[str, Any]:
        """What the tasks run on (``GET /v1/cluster``): kind, jobs, workers, cores, ..."""


class DaskRunner:
    """Runs tasks as futures of a ``distributed.Client`` (synchronous API, thread-safe)."""

    def __init__(self, client: Any, *, close_client: bool = True, session: Any = None) -> None:
        self.client = client
        self._close_client = close_client
        self.session = session  # the ClusterSession the client came with, if any

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        return self.client.submit(fn, *args, key=key, pure=False)

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        """Finished handles, waiting up to ``timeout`` s for one (no exception on timeout).

        ``distributed.wait(..., timeout=)`` raises on timeout, and the traceback keeps the
        futures it was given alive for a while: their results then stay in worker memory, and
        a batch worker that leaves takes them along — Dask would recompute every one of them.
        """
        done = [h for h in handles if h.done()]
        if done or not handles:
            return done
        event = threading.Event()
        for h in handles:
            h.add_done_callback(lambda _f: event.set())
        event.wait(timeout)
        return [h for h in handles if h.done()]

    def result(self, handle: Any) -> Any:
        try:
            return handle.result()
        finally:
            # forget the key on the cluster now, not when the last reference dies (a timed-out
            # wait may keep one in a reference cycle): a later run may submit the same key
            handle.release()

    def cancel(self, handles: Iterable[Any]) -> None:
        items = list(handles)
        if items:
            self.client.cancel(items)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            return
        if not self._close_client:
            return
        cluster = self.client.cluster  # the embedded LocalCluster, or None
        self.client.close()
        if cluster is not None:
            cluster.close()

    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info()["workers"]))

    def info(self) -> dict[str, Any]:
        if self.session is not None:
            out: dict[str, Any] = self.session.info()
            return out
        return {"kind": "address", "workers": self.workers()}


class ThreadRunner:
    """Runs tasks in a local thread pool (for tests and for tiny installs)."""

    def __init__(self, workers: int = 2) -> None:
        self.pool = cf.ThreadPoolExecutor(max_workers=workers)
        self._workers = workers

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        return self.pool.submit(fn, *args)

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        if not handles:
            return []
        done, _ = cf.wait(handles, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return [h for h in handles if h in done]

    def result(self, handle: Any) -> Any:
        return handle.result()

    def cancel(self, handles: Iterable[Any]) -> None:
        for h in handles:
            h.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def workers(self) -> int:
        return self._workers

    def info(self) -> dict[str, Any]:
        return {"kind": "threads", "workers": self._workers, "cores": self._workers}
