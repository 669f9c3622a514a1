"""The one contract every Limiter keeps, run over MemoryLimiter and RedisLimiter.

Redis is not optional here: the server on 127.0.0.1:6379 (override with
``HABLA_TEST_REDIS``) must be up, and a run without it fails. Each test gets its own
random key prefix and deletes its keys afterwards, so parallel or repeated runs never
collide. Time is injected through ``now``; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from habla.core.errors import BackendUnavailable, QuotaExceeded, RateLimited
from habla.limits.base import STREAM_RETRY_AFTER, Admission, Limiter
from habla.limits.memory import MemoryLimiter
from habla.limits.policy import LimitPolicy
from habla.limits.redis import RedisLimiter
from habla.limits.rules import ratelimit_headers
from redistest import REDIS_URL, keyspace

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=UTC).timestamp()  # noon on a mid-month day
UNTIL_MIDNIGHT = 12 * 3600.0
UNTIL_APRIL = datetime(2025, 4, 1, tzinfo=UTC).timestamp() - T0


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    async with keyspace() as space:
        yield space


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "memory":
        memory = MemoryLimiter()
        yield memory
        await memory.close()
        return
    async with keyspace() as (client, prefix):
        made = RedisLimiter(client, key_prefix=prefix)
        try:
            yield made
        finally:
            await made.close()


def policy(**limits: Any) -> LimitPolicy:
    """Everything unlimited except what the test names."""
    return LimitPolicy(**{"requests_per_minute": None, "concurrent_streams": None, **limits})


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def _outcomes(
    calls: list[Awaitable[Admission]],
) -> tuple[list[Admission], list[BaseException]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    admitted = [r for r in results if isinstance(r, Admission)]
    refused = [r for r in results if isinstance(r, BaseException)]
    return admitted, refused


# -- requests per minute ------------------------------------------------------------------


async def test_rpm_limit_slides_with_the_window(limiter: Limiter) -> None:
    uid, rules = user(), policy(requests_per_minute=3)
    for offset in (0, 10, 20):
        done = await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + offset)
        await limiter.settle(done, used_tokens=0, used_cost=0)

    with pytest.raises(RateLimited) as refused:
        await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 30)
    assert refused.value.retry_after == pytest.approx(30.0)  # until T0 leaves the window
    assert refused.value.param == "requests_per_minute"

    # The request at T0 counts until T0 + 60 exactly; then one more fits, and only one.
    await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 60)
    with pytest.raises(RateLimited) as again:
        await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 60)
    assert again.value.retry_after == pytest.approx(10.0)


async def test_a_refused_request_takes_nothing(limiter: Limiter) -> None:
    uid, rules = user(), policy(requests_per_minute=1, tokens_per_day=1000)
    await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=T0)
    with pytest.raises(RateLimited):
        await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=T0 + 1)
    seen = await limiter.snapshot(uid, rules, now=T0 + 1)
    assert (seen.requests.used, seen.streams.used, seen.tokens_day.used) == (1, 1, 100)


async def test_users_are_limited_independently(limiter: Limiter) -> None:
    rules = policy(requests_per_minute=1, tokens_per_day=100)
    alice, bob = user(), user()
    await limiter.admit(alice, rules, reserve_tokens=100, reserve_cost=0, now=T0)
    await limiter.admit(bob, rules, reserve_tokens=100, reserve_cost=0, now=T0)
    assert (await limiter.snapshot(bob, rules, now=T0)).tokens_day.used == 100


# -- concurrent streams -------------------------------------------------------------------


async def test_stream_limit_and_release_on_settle(limiter: Limiter) -> None:
    uid, rules = user(), policy(concurrent_streams=2)
    first = await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0)
    await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0)
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 1)
    assert refused.value.retry_after == STREAM_RETRY_AFTER > 0
    assert refused.value.param == "concurrent_streams"

    await limiter.settle(first, used_tokens=0, used_cost=0)
    await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 2)
    assert (await limiter.snapshot(uid, rules, now=T0 + 2)).streams.used == 2


async def test_an_unsettled_slot_expires(limiter: Limiter) -> None:
    # A process that died mid-stream never settles; its slot must not stay taken forever.
    uid, rules = user(), policy(concurrent_streams=1)
    await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0)
    with pytest.raises(RateLimited):
        await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 899)
    await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0, now=T0 + 900)


async def test_zero_limits_refuse_everything(limiter: Limiter) -> None:
    uid = user()
    with pytest.raises(RateLimited):
        await limiter.admit(uid, policy(requests_per_minute=0), reserve_tokens=0, reserve_cost=0)
    with pytest.raises(RateLimited):
        await limiter.admit(uid, policy(concurrent_streams=0), reserve_tokens=0, reserve_cost=0)
    with pytest.raises(QuotaExceeded):
        await limiter.admit(uid, policy(tokens_per_day=0), reserve_tokens=0, reserve_cost=0)
    with pytest.raises(QuotaExceeded):
        await limiter.admit(uid, policy(cost_per_month=0.0), reserve_tokens=0, reserve_cost=0)


# -- budgets ------------------------------------------------------------------------------


async def test_reserve_then_settle_returns_the_unused_part(limiter: Limiter) -> None:
    uid, rules = user(), policy(tokens_per_day=1000, tokens_per_month=5000)
    done = await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=T0)
    held = await limiter.snapshot(uid, rules, now=T0)
    assert (held.tokens_day.used, held.tokens_day.remaining) == (100, 900)
    assert (held.tokens_month.used, held.tokens_month.remaining) == (100, 4900)

    await limiter.settle(done, used_tokens=30, used_cost=0)
    after = await limiter.snapshot(uid, rules, now=T0)
    assert (after.tokens_day.used, after.tokens_day.remaining) == (30, 970)
    assert (after.tokens_month.used, after.streams.used) == (30, 0)


async def test_day_budget_resets_at_utc_midnight_month_budget_carries(limiter: Limiter) -> None:
    uid, rules = user(), policy(tokens_per_day=100, tokens_per_month=150)
    done = await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=T0)
    await limiter.settle(done, used_tokens=100, used_cost=0)
    with pytest.raises(QuotaExceeded) as spent:
        await limiter.admit(uid, rules, reserve_tokens=1, reserve_cost=0, now=T0)
    assert spent.value.retry_after == pytest.approx(UNTIL_MIDNIGHT)
    assert spent.value.param == "tokens_per_day"

    tomorrow = T0 + UNTIL_MIDNIGHT
    done = await limiter.admit(uid, rules, reserve_tokens=50, reserve_cost=0, now=tomorrow)
    await limiter.settle(done, used_tokens=50, used_cost=0)
    with pytest.raises(QuotaExceeded) as month:
        await limiter.admit(uid, rules, reserve_tokens=1, reserve_cost=0, now=tomorrow)
    assert month.value.param == "tokens_per_month"
    assert month.value.retry_after == pytest.approx(UNTIL_APRIL - UNTIL_MIDNIGHT)


async def test_a_reservation_larger_than_what_is_left_is_refused(limiter: Limiter) -> None:
    uid, rules = user(), policy(tokens_per_day=100)
    await limiter.admit(uid, rules, reserve_tokens=60, reserve_cost=0, now=T0)
    with pytest.raises(QuotaExceeded) as refused:
        await limiter.admit(uid, rules, reserve_tokens=41, reserve_cost=0, now=T0)
    assert "40 tokens left" in refused.value.message
    await limiter.admit(uid, rules, reserve_tokens=40, reserve_cost=0, now=T0)


async def test_a_request_settles_against_the_day_it_started(limiter: Limiter) -> None:
    uid, rules = user(), policy(tokens_per_day=1000)
    late = T0 + UNTIL_MIDNIGHT - 10
    done = await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=late)
    await limiter.settle(done, used_tokens=40, used_cost=0)
    assert (await limiter.snapshot(uid, rules, now=late)).tokens_day.used == 40
    assert (await limiter.snapshot(uid, rules, now=late + 20)).tokens_day.used == 0
    assert (await limiter.snapshot(uid, rules, now=late + 20)).tokens_month.used == 40


async def test_concurrent_admits_never_overshoot_the_token_budget(limiter: Limiter) -> None:
    uid, rules = user(), policy(tokens_per_day=1000)

    def admit() -> Awaitable[Admission]:
        return limiter.admit(uid, rules, reserve_tokens=90, reserve_cost=0, now=T0)

    admitted, refused = await _outcomes([admit() for _ in range(50)])
    assert len(admitted) == 1000 // 90
    assert all(isinstance(exc, QuotaExceeded) for exc in refused)
    await asyncio.gather(*(limiter.settle(a, used_tokens=45, used_cost=0) for a in admitted))

    admitted, _ = await _outcomes([admit() for _ in range(50)])
    assert len(admitted) == (1000 - 45 * 11) // 90
    # The worst case: every admitted request uses more than it reserved.
    await asyncio.gather(*(limiter.settle(a, used_tokens=95, used_cost=0) for a in admitted))
    total = (await limiter.snapshot(uid, rules, now=T0)).tokens_day.used
    assert total == 45 * 11 + 95 * len(admitted)
    assert total <= 1000 + 90


async def test_concurrent_admits_never_overshoot_the_cost_budget(limiter: Limiter) -> None:
    uid, rules = user(), policy(cost_per_day=1.0)

    def admit() -> Awaitable[Admission]:
        return limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=0.1, now=T0)

    # Ten reservations of 0.1 fit 1.0 exactly: costs are counted in integer units.
    admitted, refused = await _outcomes([admit() for _ in range(50)])
    assert len(admitted) == 10
    assert all(isinstance(exc, QuotaExceeded) for exc in refused)
    await asyncio.gather(*(limiter.settle(a, used_tokens=0, used_cost=0.03) for a in admitted))
    seen = await limiter.snapshot(uid, rules, now=T0)
    assert seen.cost_day.used == pytest.approx(0.3)
    assert seen.cost_day.remaining == pytest.approx(0.7)
    assert seen.cost_month.used == pytest.approx(0.3)


async def test_settle_twice_is_harmless(limiter: Limiter) -> None:
    uid, rules = user(), policy(tokens_per_day=1000, concurrent_streams=2)
    first = await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0.5, now=T0)
    await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0.5, now=T0)
    await limiter.settle(first, used_tokens=30, used_cost=0.1)
    await limiter.settle(first, used_tokens=30, used_cost=0.1)
    await limiter.settle(first, used_tokens=0, used_cost=0)
    seen = await limiter.snapshot(uid, rules, now=T0)
    assert (seen.tokens_day.used, seen.streams.used) == (130, 1)
    assert seen.cost_day.used == pytest.approx(0.6)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
async def test_bad_amounts_are_rejected_and_change_nothing(limiter: Limiter, bad: float) -> None:
    uid, rules = user(), policy(cost_per_day=1.0)
    with pytest.raises(ValueError, match="reserve_cost"):
        await limiter.admit(uid, rules, reserve_tokens=0, reserve_cost=bad, now=T0)
    done = await limiter.admit(uid, rules, reserve_tokens=10, reserve_cost=0.5, now=T0)
    with pytest.raises(ValueError, match="used_cost"):
        await limiter.settle(done, used_tokens=5, used_cost=bad)
    seen = await limiter.snapshot(uid, rules, now=T0)
    assert (seen.cost_day.used, seen.tokens_day.used, seen.streams.used) == (0.5, 10, 1)


# -- snapshot and headers -----------------------------------------------------------------


async def test_snapshot_numbers(limiter: Limiter) -> None:
    uid = user()
    rules = LimitPolicy(
        requests_per_minute=10,
        concurrent_streams=2,
        tokens_per_day=1000,
        tokens_per_month=5000,
        cost_per_day=2.0,
        cost_per_month=10.0,
    )
    done = await limiter.admit(uid, rules, reserve_tokens=300, reserve_cost=0.75, now=T0)
    await limiter.settle(done, used_tokens=120, used_cost=0.25)
    await limiter.admit(uid, rules, reserve_tokens=200, reserve_cost=0.5, now=T0 + 15)

    seen = await limiter.snapshot(uid, rules, now=T0 + 20)
    assert (seen.user_id, seen.as_of) == (uid, T0 + 20)
    assert (seen.requests.used, seen.requests.limit, seen.requests.remaining) == (2, 10, 8)
    assert seen.requests.reset_seconds == pytest.approx(40.0)
    assert (seen.streams.used, seen.streams.limit, seen.streams.remaining) == (1, 2, 1)
    assert (seen.tokens_day.used, seen.tokens_day.remaining) == (320, 680)
    assert seen.tokens_day.reset_seconds == pytest.approx(UNTIL_MIDNIGHT - 20)
    assert (seen.tokens_month.used, seen.tokens_month.limit) == (320, 5000)
    assert seen.tokens_month.reset_seconds == pytest.approx(UNTIL_APRIL - 20)
    assert seen.cost_day.used == pytest.approx(0.75)
    assert seen.cost_day.remaining == pytest.approx(1.25)
    assert seen.cost_month.remaining == pytest.approx(9.25)

    later = await limiter.snapshot(uid, rules, now=T0 + 75)  # both requests left the window
    assert (later.requests.used, later.requests.reset_seconds) == (0, 0.0)


async def test_snapshot_of_a_new_user_is_empty_and_unlimited_is_none(limiter: Limiter) -> None:
    seen = await limiter.snapshot(user(), policy(), now=T0)
    assert (seen.requests.used, seen.streams.used, seen.tokens_day.used) == (0, 0, 0)
    assert seen.cost_month.used == 0.0
    assert seen.tokens_day.limit is None and seen.tokens_day.remaining is None


async def test_admission_carries_header_values(limiter: Limiter) -> None:
    uid = user()
    rules = policy(requests_per_minute=5, tokens_per_day=1000, tokens_per_month=1200)
    await limiter.admit(uid, rules, reserve_tokens=500, reserve_cost=0, now=T0)
    done = await limiter.admit(uid, rules, reserve_tokens=100, reserve_cost=0.02, now=T0 + 30)
    assert (done.reserved_tokens, done.reserved_cost, done.user_id) == (100, 0.02, uid)
    assert (done.limit_requests, done.remaining_requests) == (5, 3)
    assert done.reset_requests == pytest.approx(30.0)
    # Headers report the budget with less left: the day (400) rather than the month (600).
    assert (done.limit_tokens, done.remaining_tokens) == (1000, 400)
    assert done.reset_tokens == pytest.approx(UNTIL_MIDNIGHT - 30)
    assert ratelimit_headers(done)["x-ratelimit-remaining-requests"] == "3"
    assert ratelimit_headers(done)["x-ratelimit-reset-requests"] == "30s"


# -- Redis only: replicas, expiry, failure modes ------------------------------------------


async def test_two_redis_limiters_share_counts(redis_prefix: tuple[aioredis.Redis, str]) -> None:
    _, prefix = redis_prefix
    one = RedisLimiter(REDIS_URL, key_prefix=prefix)
    two = RedisLimiter(REDIS_URL, key_prefix=prefix)
    uid, rules = user(), policy(concurrent_streams=3, tokens_per_day=500)
    try:
        calls: list[Callable[[], Awaitable[Admission]]] = [
            lambda: one.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=T0),
            lambda: two.admit(uid, rules, reserve_tokens=100, reserve_cost=0, now=T0),
        ]
        admitted, refused = await _outcomes([calls[i % 2]() for i in range(10)])
        assert len(admitted) == 3
        assert {type(exc) for exc in refused} == {RateLimited}
        await two.settle(admitted[0], used_tokens=10, used_cost=0)  # admitted by either
        seen = await one.snapshot(uid, rules, now=T0)
        assert (seen.streams.used, seen.tokens_day.used) == (2, 210)
    finally:
        await one.close()
        await two.close()


async def test_every_redis_key_expires(redis_prefix: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis_prefix
    limiter = RedisLimiter(client, key_prefix=prefix)
    rules = policy(requests_per_minute=5, concurrent_streams=5, tokens_per_day=100)
    done = await limiter.admit(user(), rules, reserve_tokens=10, reserve_cost=0.1)
    await limiter.admit(done.user_id, rules, reserve_tokens=10, reserve_cost=0.1)
    await limiter.settle(done, used_tokens=5, used_cost=0.05)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    assert len(keys) == 7  # requests, slots, one pending, four counters
    ttls = [await client.ttl(key) for key in keys]
    assert all(ttl > 0 for ttl in ttls), ttls


async def test_unreachable_redis_is_backend_unavailable() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        with pytest.raises(BackendUnavailable):
            await limiter.admit(user(), policy(), reserve_tokens=0, reserve_cost=0)
        with pytest.raises(BackendUnavailable):
            await limiter.ping()
    finally:
        await limiter.close()


def test_missing_redis_package_names_the_extra() -> None:
    # A child process, so hiding the package cannot leak into other tests.
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from habla.core.errors import ConfigError\n"
        "from habla.limits.redis import RedisLimiter\n"
        "try:\n    RedisLimiter('redis://127.0.0.1:6379')\n"
        "except ConfigError as exc:\n    print(exc.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "habla[redis]"' in out.stdout
