"""The results cache builds each answer once, even for concurrent requests (issue 8, overload)."""

from __future__ import annotations

import asyncio

import pytest
from patchwalk_service.cache import ResultsCache, _build_once

KEY = ("0123456789abcdef", "kappa", "")


def test_concurrent_requests_share_one_build() -> None:
    cache = ResultsCache()
    builds = 0

    async def build() -> tuple[str, bytes, bool]:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.05)
        return "application/json", b'{"points":[]}', True

    async def main() -> list[tuple[str, bytes, bool, str | None]]:
        return await asyncio.gather(*(_build_once(cache, KEY, build) for _ in range(50)))

    answers = asyncio.run(main())
    assert builds == 1 and len(set(answers)) == 1
    media_type, body, final, etag = answers[0]
    assert final and etag is not None and cache.get(KEY) == (etag, media_type, body)
    assert not cache.building


def test_partial_answers_are_shared_but_never_kept() -> None:
    cache = ResultsCache()
    builds = 0

    async def build() -> tuple[str, bytes, bool]:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.02)
        return "application/json", b'{"partial":true}', False

    async def main() -> list[tuple[str, bytes, bool, str | None]]:
        return await asyncio.gather(*(_build_once(cache, KEY, build) for _ in range(5)))

    answers = asyncio.run(main())
    assert builds == 1 and all(a[3] is None for a in answers)
    assert cache.get(KEY) is None
    asyncio.run(main())
    assert builds == 2  # built again: a partial answer is never served from the cache


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

    async def build() -> tuple[str, bytes, bool]:
        await asyncio.sleep(0.02)
        return "application/json", b"{}", True

    async def main() -> None:
        task = asyncio.create_task(_build_once(cache, KEY, build))
        await asyncio.sleep(0.005)
        cache.forget(KEY[0])  # DELETE ?purge=true while the answer is being read
        await task

    asyncio.run(main())
    assert cache.get(KEY) is None


def test_a_waiter_builds_itself_when_the_builder_is_cancelled() -> None:
    cache = ResultsCache()
    builds = 0

    async def build() -> tuple[str, bytes, bool]:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.05)
        return "application/json", b"{}", True

    async def main() -> tuple[str, bytes, bool, str | None]:
        first = asyncio.create_task(_build_once(cache, KEY, build))
        await asyncio.sleep(0.005)
        second = asyncio.create_task(_build_once(cache, KEY, build))
        await asyncio.sleep(0.005)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    answer = asyncio.run(main())
    assert builds == 2 and answer[3] is not None and cache.get(KEY) is not None
