"""Limiter on Redis, shared by every replica: one atomic Lua script per admit and settle.

Several habla processes pointed at one Redis enforce one policy per user together:
every admit, settle and snapshot is a single script call (``register_script``), so no
two replicas can both take the last slot or the last tokens. Keys are
``{key_prefix}:{{user_id}}:…`` and expire on their own (the request log after the window,
stream slots ``slot_ttl`` after admission, budget counters after their day or month), so
a replica that dies mid-stream leaks nothing for long and Redis needs no persistence.

Times are taken from the calling process's clock (or the ``now`` passed in), so
replicas need roughly synchronised clocks (NTP); a skew of a second shifts a window by a
second. The ``redis`` package is imported lazily: without it this raises
:class:`~habla.core.errors.ConfigError` naming the extra. Connection failures become
:class:`~habla.core.errors.BackendUnavailable` (the service cannot check limits right now,
so it refuses rather than serving unmetered).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from habla.core.errors import BackendUnavailable, ConfigError
from habla.limits import redis_lua, rules
from habla.limits.base import (
    COUNTER_GRACE,
    DEFAULT_SLOT_TTL,
    PENDING_TTL,
    WINDOW_SECONDS,
    Admission,
    Periods,
    UsageSnapshot,
)
from habla.limits.policy import LimitPolicy, check_amount

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisLimiter:
    """A :class:`~habla.limits.base.Limiter` on Redis.

    ``client`` is a URL (``redis://127.0.0.1:6379/0``; the limiter owns and closes the
    connection) or a ``redis.asyncio.Redis`` (the caller owns it; :meth:`close` leaves it
    open).
    """

    def __init__(
        self,
        client: str | Redis,
        *,
        key_prefix: str = "habla",
        slot_ttl: float = DEFAULT_SLOT_TTL,
    ) -> None:
        try:
            import redis.asyncio as aioredis
            from redis.exceptions import RedisError
        except ImportError as exc:
            raise ConfigError(
                'Redis limits need the redis package: pip install "habla[redis]"'
            ) from exc
        if not key_prefix:
            raise ConfigError("the Redis key prefix must not be empty")
        check_amount("slot_ttl", slot_ttl)
        self._owned = isinstance(client, str)
        self._client: Redis = aioredis.from_url(client) if isinstance(client, str) else client
        self._errors: tuple[type[Exception], ...] = (RedisError, OSError)
        self._prefix = key_prefix
        self._slot_ttl = slot_ttl
        self._admit = self._client.register_script(redis_lua.ADMIT)
        self._settle = self._client.register_script(redis_lua.SETTLE)
        self._snapshot = self._client.register_script(redis_lua.SNAPSHOT)

    async def ping(self) -> None:
        """Raises :class:`BackendUnavailable` unless Redis answers (for readiness checks)."""
        await self._call(self._client.ping)

    async def admit(
        self,
        user_id: str,
        policy: LimitPolicy,
        *,
        reserve_tokens: int,
        reserve_cost: float,
        now: float | None = None,
    ) -> Admission:
        checked = rules.admit_args(user_id, reserve_tokens, reserve_cost, now)
        now, periods, reserve_nanos = checked.now, checked.periods, checked.reserve_nanos
        admission_id = uuid.uuid4().hex
        keys = self._keys(user_id, periods.day, periods.month)
        args: list[str | int] = [
            repr(now),
            admission_id,
            repr(now - WINDOW_SECONDS),
            repr(now),
            *(_limit(value) for value in _limits(policy)),
            reserve_tokens,
            reserve_nanos,
            repr(now + self._slot_ttl),
            math.ceil(WINDOW_SECONDS) + 1,
            math.ceil(self._slot_ttl) + 60,
            math.ceil(PENDING_TTL),
            math.ceil(periods.day_reset + COUNTER_GRACE),
            math.ceil(periods.month_reset + COUNTER_GRACE),
        ]
        reply = await self._call(
            self._admit,
            keys=[keys.requests, keys.slots, keys.pending(admission_id), *keys.counters],
            args=args,
        )
        seen = _observed(reply[1:])
        if int(reply[0]) != 1:
            refused = rules.refusal(
                policy,
                periods,
                seen,
                reserve_tokens=reserve_tokens,
                reserve_nanos=reserve_nanos,
                now=now,
            )
            if refused is None:  # the script and rules.refusal disagree: a bug, say so
                raise RuntimeError(f"limits script refused but the rules admit: {seen}")
            raise refused
        return rules.admission(
            admission_id,
            user_id,
            policy,
            periods,
            seen,
            reserve_tokens=reserve_tokens,
            reserve_nanos=reserve_nanos,
            now=now,
        )

    async def settle(self, admission: Admission, *, used_tokens: int, used_cost: float) -> None:
        token_delta, cost_delta = rules.settle_deltas(admission, used_tokens, used_cost)
        keys = self._keys(admission.user_id, admission.day, admission.month)
        await self._call(
            self._settle,
            keys=[keys.pending(admission.id), keys.slots, *keys.counters],
            args=[admission.id, token_delta, cost_delta],
        )

    async def snapshot(
        self, user_id: str, policy: LimitPolicy, now: float | None = None
    ) -> UsageSnapshot:
        now = time.time() if now is None else now
        periods = Periods.at(now)
        keys = self._keys(user_id, periods.day, periods.month)
        reply = await self._call(
            self._snapshot,
            keys=[keys.requests, keys.slots, *keys.counters],
            args=[f"({now - WINDOW_SECONDS!r}", f"({now!r}"],
        )
        return rules.snapshot(user_id, policy, periods, _observed(reply), now)

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()

    def _keys(self, user_id: str, day: str, month: str) -> _Keys:
        # The hash tag keeps one user's keys in one cluster slot, as Lua scripts need.
        return _Keys(f"{self._prefix}:{{{user_id}}}", day, month)

    async def _call(self, func: Any, **kwargs: Any) -> Any:
        try:
            return await func(**kwargs)
        except self._errors as exc:
            raise BackendUnavailable(
                "the limits store (Redis) is unreachable; try again shortly", retry_after=1.0
            ) from exc


class _Keys:
    def __init__(self, base: str, day: str, month: str) -> None:
        self.requests = f"{base}:requests"
        self.slots = f"{base}:slots"
        self.counters = [
            f"{base}:tokens:d:{day}",
            f"{base}:tokens:m:{month}",
            f"{base}:cost:d:{day}",
            f"{base}:cost:m:{month}",
        ]
        self._base = base

    def pending(self, admission_id: str) -> str:
        return f"{self._base}:pending:{admission_id}"


def _limits(policy: LimitPolicy) -> tuple[int | None, ...]:
    cost_day = None if policy.cost_per_day is None else rules.to_nanos(policy.cost_per_day)
    cost_month = None if policy.cost_per_month is None else rules.to_nanos(policy.cost_per_month)
    return (
        policy.requests_per_minute,
        policy.concurrent_streams,
        policy.tokens_per_day,
        policy.tokens_per_month,
        cost_day,
        cost_month,
    )


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def _observed(values: Sequence[Any]) -> rules.Observed:
    """Script reply ``[requests, oldest, streams, tokens d/m, cost d/m]`` → counts."""
    requests, oldest, streams, tokens_day, tokens_month, cost_day, cost_month = values
    # Scores come back as str or bytes depending on the client's decode_responses.
    oldest_at = float(oldest) if oldest not in ("", b"") else None
    return rules.Observed(
        requests=int(requests),
        oldest_request=oldest_at,
        streams=int(streams),
        tokens_day=int(tokens_day),
        tokens_month=int(tokens_month),
        cost_day=int(cost_day),
        cost_month=int(cost_month),
    )
