"""The sign-in throttle's rules, the same in-process and on Redis (shared by replicas).

Time is passed in (``now``); nothing sleeps or reads the wall clock. Each Redis test has
its own key prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from habla.auth.throttle import MemorySignInThrottle, SignInThrottle
from habla.core.errors import BackendUnavailable
from habla.limits.redis_throttle import RedisSignInThrottle
from redistest import REDIS_URL, keyspace

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[SignInThrottle]:
    if request.param == "memory":
        yield MemorySignInThrottle()
        return
    async with keyspace() as (client, prefix):
        made = RedisSignInThrottle(client, key_prefix=prefix)
        yield made
        await made.close()


async def test_per_account_lock_slides(throttle: SignInThrottle) -> None:
    now = T0
    for i in range(5):
        assert await throttle.retry_after("alice", f"10.0.0.{i}", now) is None
        await throttle.failed("alice", f"10.0.0.{i}", now)
        now += timedelta(minutes=1)
    wait = await throttle.retry_after("alice", "10.9.9.9", now)
    assert wait == pytest.approx(10 * 60)  # the first failure leaves the window at 15 min
    assert await throttle.retry_after("bob", "10.9.9.9", now) is None
    now += timedelta(minutes=10)
    assert await throttle.retry_after("alice", None, now) is None


async def test_per_ip_lock_and_success_only_clears_the_account(throttle: SignInThrottle) -> None:
    for i in range(20):
        await throttle.failed(f"user{i}", "10.0.0.1", T0)
    assert await throttle.retry_after("anyone", "10.0.0.1", T0) is not None
    assert await throttle.retry_after("anyone", "10.0.0.2", T0) is None
    await throttle.succeeded("user3", "10.0.0.1", T0)
    assert await throttle.retry_after("user3", "10.0.0.1", T0) is not None
    assert await throttle.retry_after("user3", "10.0.0.2", T0) is None


async def test_a_success_clears_the_account(throttle: SignInThrottle) -> None:
    for _ in range(5):
        await throttle.failed("carol", None, T0)
    assert await throttle.retry_after("carol", None, T0) is not None
    await throttle.succeeded("carol", None, T0)
    assert await throttle.retry_after("carol", None, T0) is None


async def test_names_cannot_reach_other_keys(throttle: SignInThrottle) -> None:
    tricky = ["*", "alice:ip:10.0.0.1", "a" * 5000, "ünï\u200bcode", ""]
    for name in tricky:
        for _ in range(5):
            await throttle.failed(name, None, T0)
    for name in tricky:
        assert await throttle.retry_after(name, None, T0) is not None
    assert await throttle.retry_after("alice", "10.0.0.1", T0) is None


async def test_two_redis_throttles_share_counts() -> None:
    async with keyspace() as (_, prefix):
        one = RedisSignInThrottle(REDIS_URL, key_prefix=prefix)
        two = RedisSignInThrottle(REDIS_URL, key_prefix=prefix)
        try:
            for i in range(5):
                await (one if i % 2 else two).failed("dave", "10.1.1.1", T0)
            assert await one.retry_after("dave", None, T0) is not None
            assert await two.retry_after("dave", None, T0) is not None
            await one.succeeded("dave", None, T0)
            assert await two.retry_after("dave", None, T0) is None
        finally:
            await one.close()
            await two.close()


async def test_redis_keys_expire_and_stay_bounded() -> None:
    async with keyspace() as (client, prefix):
        throttle = RedisSignInThrottle(client, key_prefix=prefix, per_account=3, per_ip=4)
        for _ in range(50):
            await throttle.failed("erin", "10.2.2.2", T0)
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        assert len(keys) == 2
        sizes = sorted([await client.zcard(key) for key in keys])
        assert sizes == [3, 4]
        for key in keys:
            assert 0 < await client.ttl(key) <= 15 * 60 + 1


async def test_unreachable_redis_refuses_rather_than_letting_guesses_through() -> None:
    throttle = RedisSignInThrottle("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        with pytest.raises(BackendUnavailable):
            await throttle.retry_after("frank", "10.3.3.3", T0)
        with pytest.raises(BackendUnavailable):
            await throttle.failed("frank", "10.3.3.3", T0)
    finally:
        await throttle.close()
