"""The results cache builds each answer once, even for concurrent requests (issue 8, overload)."""

from __future__ import annotations

import asyncio

import pytest
from patchwalk_service.cache import ResultsCache, _build_once

KEY = ("0123456789abcdef", "kappa", "")
Answer = tuple[str, bytes, bool, str | None]


class Builder:
    """A build that takes ``delay`` s and counts how often it ran."""

    def __init__(self, body: bytes, final: bool, delay: float) -> None:
        self.body, self.final, self.delay, self.builds = body, final, delay, 0

    async def __call__(self) -> tuple[str, bytes, bool]:
        self.builds += 1
        await asyncio.sleep(self.delay)
        return "application/json", self.body, self.final

    def concurrently(self, cache: ResultsCache, n: int) -> list[Answer]:
        """``n`` concurrent requests of KEY."""
        async def main() -> list[Answer]:
            return await asyncio.gather(*(_build_once(cache, KEY, self) for _ in range(n)))

        return asyncio.run(main())


def test_concurrent_requests_share_one_build() -> None:
    cache = ResultsCache()
    build = Builder(b'{"points":[]}', True, 0.05)
    answers = build.concurrently(cache, 50)
    assert build.builds == 1 and len(set(answers)) == 1
    media_type, body, final, etag = answers[0]
    assert final and etag is not None and cache.get(KEY) == (etag, media_type, body)
    assert not cache.building


def test_partial_answers_are_shared_but_never_kept() -> None:
    cache = ResultsCache()
    build = Builder(b'{"partial":true}', False, 0.02)
    answers = build.concurrently(cache, 5)
    assert build.builds == 1 and all(a[3] is None for a in answers)
    assert cache.get(KEY) is None
    build.concurrently(cache, 5)
    assert build.builds == 2  # built again: a partial answer is never served from the cache


def test_an_error_reaches_every_waiter_and_nothing_is_kept() -> None:
    cache = ResultsCache()

    async def build() -> tuple[str, bytes, bool]:
        await asyncio.sleep(0.02)
        raise LookupError("sweep not finished")

    async def main() -> list[object]:
        return await asyncio.gather(*(_build_once(cache, KEY, build) for _ in range(5)),
                                    return_exceptions=True)

    out = asyncio.run(main())
    assert all(isinstance(e, LookupError) for e in out)
    assert cache.get(KEY) is None and not cache.building


def test_an_answer_built_across_a_purge_is_not_kept() -> None:
    cache = ResultsCache()
    build = Builder(b"{}", True, 0.02)

    async def main() -> None:
        task = asyncio.create_task(_build_once(cache, KEY, build))
        await asyncio.sleep(0.005)
        cache.forget(KEY[0])  # DELETE ?purge=true while the answer is being read
        await task

    asyncio.run(main())
    assert cache.get(KEY) is None


def test_a_waiter_builds_itself_when_the_builder_is_cancelled() -> None:
    cache = ResultsCache()
    build = Builder(b"{}", True, 0.05)

    async def main() -> Answer:
        first = asyncio.create_task(_build_once(cache, KEY, build))
        await asyncio.sleep(0.005)
        second = asyncio.create_task(_build_once(cache, KEY, build))
        await asyncio.sleep(0.005)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    answer = asyncio.run(main())
    assert build.builds == 2 and answer[3] is not None and cache.get(KEY) is not None
