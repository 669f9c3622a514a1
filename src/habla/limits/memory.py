"""In-process limiter for a single node: all state in a dict, guarded by one lock.

Counts are lost on restart (a restarted node starts with fresh windows and budgets) and
are not shared between processes: for several replicas use
:class:`~habla.limits.redis.RedisLimiter`. The rules are in :mod:`habla.limits.rules`;
this module only keeps the counters they read.

Entries expire the way the Redis keys do (request log after the window, slots after
``slot_ttl``, budget counters after their period plus a grace), pruned lazily per user
whenever that user is admitted or looked at, so memory stays bounded by active users.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from dataclasses import dataclass, field

from habla.limits import rules
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


@dataclass
class _Counter:
    value: int
    expires_at: float


@dataclass
class _UserState:
    requests: list[float] = field(default_factory=list)  # admission times, sorted
    slots: dict[str, float] = field(default_factory=dict)  # admission id -> expires at
    pending: dict[str, float] = field(default_factory=dict)  # unsettled id -> forget at
    counters: dict[str, _Counter] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        del self.requests[: bisect.bisect_right(self.requests, now - WINDOW_SECONDS)]
        self.slots = {sid: exp for sid, exp in self.slots.items() if exp > now}
        self.pending = {aid: exp for aid, exp in self.pending.items() if exp > now}
        self.counters = {k: c for k, c in self.counters.items() if c.expires_at > now}

    def is_empty(self) -> bool:
        return not (self.requests or self.slots or self.pending or self.counters)

    def value(self, key: str) -> int:
        counter = self.counters.get(key)
        return 0 if counter is None else counter.value

    def observe(self, periods: Periods) -> rules.Observed:
        return rules.Observed(
            requests=len(self.requests),
            oldest_request=self.requests[0] if self.requests else None,
            streams=len(self.slots),
            tokens_day=self.value(f"tokens:d:{periods.day}"),
            tokens_month=self.value(f"tokens:m:{periods.month}"),
            cost_day=self.value(f"cost:d:{periods.day}"),
            cost_month=self.value(f"cost:m:{periods.month}"),
        )

    def add(self, key: str, amount: int, expires_at: float) -> None:
        counter = self.counters.setdefault(key, _Counter(0, expires_at))
        counter.value += amount

    def adjust(self, key: str, delta: int) -> None:
        # Only a counter that still exists: a late settle must not resurrect a period.
        counter = self.counters.get(key)
        if counter is not None:
            counter.value = max(0, counter.value + delta)


class MemoryLimiter:
    """A :class:`~habla.limits.base.Limiter` for one process.

    A :class:`threading.Lock` rather than an :class:`asyncio.Lock`: nothing inside it
    awaits, so it never blocks the loop for long, and it also holds if channels run on
    different event loops or threads.
    """

    def __init__(self, *, slot_ttl: float = DEFAULT_SLOT_TTL) -> None:
        check_amount("slot_ttl", slot_ttl)
        self._slot_ttl = slot_ttl
        self._lock = threading.Lock()
        self._users: dict[str, _UserState] = {}

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
        with self._lock:
            state = self._users.setdefault(user_id, _UserState())
            state.prune(now)
            refused = rules.refusal(
                policy,
                periods,
                state.observe(periods),
                reserve_tokens=reserve_tokens,
                reserve_nanos=reserve_nanos,
                now=now,
            )
            if refused is not None:
                if state.is_empty():
                    del self._users[user_id]
                raise refused
            admission_id = uuid.uuid4().hex
            bisect.insort(state.requests, now)
            state.slots[admission_id] = now + self._slot_ttl
            state.pending[admission_id] = now + PENDING_TTL
            day_expiry = now + periods.day_reset + COUNTER_GRACE
            month_expiry = now + periods.month_reset + COUNTER_GRACE
            state.add(f"tokens:d:{periods.day}", reserve_tokens, day_expiry)
            state.add(f"tokens:m:{periods.month}", reserve_tokens, month_expiry)
            state.add(f"cost:d:{periods.day}", reserve_nanos, day_expiry)
            state.add(f"cost:m:{periods.month}", reserve_nanos, month_expiry)
            after = state.observe(periods)
        return rules.admission(
            admission_id,
            user_id,
            policy,
            periods,
            after,
            reserve_tokens=reserve_tokens,
            reserve_nanos=reserve_nanos,
            now=now,
        )

    async def settle(self, admission: Admission, *, used_tokens: int, used_cost: float) -> None:
        token_delta, cost_delta = rules.settle_deltas(admission, used_tokens, used_cost)
        with self._lock:
            state = self._users.get(admission.user_id)
            # The pending entry makes settle idempotent: only its first call gets here.
            if state is None or state.pending.pop(admission.id, None) is None:
                return
            state.slots.pop(admission.id, None)
            state.adjust(f"tokens:d:{admission.day}", token_delta)
            state.adjust(f"tokens:m:{admission.month}", token_delta)
            state.adjust(f"cost:d:{admission.day}", cost_delta)
            state.adjust(f"cost:m:{admission.month}", cost_delta)

    async def snapshot(
        self, user_id: str, policy: LimitPolicy, now: float | None = None
    ) -> UsageSnapshot:
        now = time.time() if now is None else now
        periods = Periods.at(now)
        with self._lock:
            state = self._users.get(user_id)
            if state is None:
                seen = _UserState().observe(periods)
            else:
                state.prune(now)
                seen = state.observe(periods)
                if state.is_empty():
                    del self._users[user_id]
        return rules.snapshot(user_id, policy, periods, seen, now)

    async def close(self) -> None:
        with self._lock:
            self._users.clear()
