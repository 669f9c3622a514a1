"""The admission rules every limiter applies, as pure functions over observed counts.

A limiter observes a user's state (:class:`Observed`), asks :func:`refusal` whether a
request may pass, and builds the :class:`~habla.limits.base.Admission` or
:class:`~habla.limits.base.UsageSnapshot` from the same numbers. The memory limiter calls
these directly under its lock; the Redis limiter runs the same decision inside a Lua
script (for atomicity) and uses these functions to turn the script's numbers into errors
and values, so both limiters word their answers identically. The contract tests keep the
Lua and this module in step.

Costs are integers in 1e-9 currency units (:data:`~habla.limits.base.NANOS`): float sums
drift (ten reservations of 0.1 do not sum to 1.0), integer sums do not.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from habla.core.errors import HablaError, QuotaExceeded, RateLimited
from habla.limits.base import (
    NANOS,
    STREAM_RETRY_AFTER,
    WINDOW_SECONDS,
    Admission,
    Meter,
    Periods,
    UsageSnapshot,
)
from habla.limits.policy import LimitPolicy, check_amount

BUDGET_ORDER = ("tokens_per_day", "tokens_per_month", "cost_per_day", "cost_per_month")


def to_nanos(cost: float) -> int:
    return round(cost * NANOS)


@dataclass(frozen=True, slots=True)
class AdmitArgs:
    """Validated arguments of ``Limiter.admit``, shared by every limiter."""

    now: float
    periods: Periods
    reserve_nanos: int


def admit_args(
    user_id: str, reserve_tokens: int, reserve_cost: float, now: float | None
) -> AdmitArgs:
    if not user_id:
        raise ValueError("user_id must not be empty")
    check_amount("reserve_tokens", reserve_tokens, integral=True)
    check_amount("reserve_cost", reserve_cost)
    at = time.time() if now is None else now
    return AdmitArgs(at, Periods.at(at), to_nanos(reserve_cost))


def settle_deltas(admission: Admission, used_tokens: int, used_cost: float) -> tuple[int, int]:
    """(token delta, cost delta in nanos) that replace a reservation with actual use."""
    check_amount("used_tokens", used_tokens, integral=True)
    check_amount("used_cost", used_cost)
    return (
        used_tokens - admission.reserved_tokens,
        to_nanos(used_cost) - to_nanos(admission.reserved_cost),
    )


def from_nanos(nanos: int) -> float:
    return nanos / NANOS


@dataclass(frozen=True, slots=True)
class Observed:
    """A user's counters at ``now``, after expired entries are pruned."""

    requests: int  # in the sliding window
    oldest_request: float | None  # its admission time, if any
    streams: int  # live slots
    tokens_day: int
    tokens_month: int
    cost_day: int  # nanos
    cost_month: int


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    used: int
    limit: int | None
    reset: float

    def refuses(self, reserve: int) -> bool:
        # A spent budget refuses even a zero reservation; limit 0 refuses everything.
        if self.limit is None:
            return False
        return self.used >= self.limit or self.used + reserve > self.limit


def budgets(policy: LimitPolicy, periods: Periods, seen: Observed) -> list[Budget]:
    """The four budgets in :data:`BUDGET_ORDER`, costs in nanos."""
    cost_day = None if policy.cost_per_day is None else to_nanos(policy.cost_per_day)
    cost_month = None if policy.cost_per_month is None else to_nanos(policy.cost_per_month)
    return [
        Budget("tokens_per_day", seen.tokens_day, policy.tokens_per_day, periods.day_reset),
        Budget("tokens_per_month", seen.tokens_month, policy.tokens_per_month, periods.month_reset),
        Budget("cost_per_day", seen.cost_day, cost_day, periods.day_reset),
        Budget("cost_per_month", seen.cost_month, cost_month, periods.month_reset),
    ]


def refusal(
    policy: LimitPolicy,
    periods: Periods,
    seen: Observed,
    *,
    reserve_tokens: int,
    reserve_nanos: int,
    now: float,
) -> HablaError | None:
    """Why this request may not pass, or ``None``.

    Budgets are checked first: when a budget is spent, "come back tomorrow" is the useful
    answer, not "come back in 20 seconds".
    """
    refused = [
        (budget, reserve)
        for budget, reserve in zip(
            budgets(policy, periods, seen),
            (reserve_tokens, reserve_tokens, reserve_nanos, reserve_nanos),
            strict=True,
        )
        if budget.refuses(reserve)
    ]
    if refused:
        return quota_error(refused)
    rpm = policy.requests_per_minute
    if rpm is not None and seen.requests >= rpm:
        oldest = now if seen.oldest_request is None else seen.oldest_request
        return RateLimited(
            f"too many requests: the limit is {rpm} per minute",
            retry_after=max(oldest + WINDOW_SECONDS - now, 0.001),
            param="requests_per_minute",
        )
    streams = policy.concurrent_streams
    if streams is not None and seen.streams >= streams:
        return RateLimited(
            f"too many streams at once: the limit is {streams}; wait for one to finish",
            retry_after=STREAM_RETRY_AFTER,
            param="concurrent_streams",
        )
    return None


def quota_error(refused: list[tuple[Budget, int]]) -> QuotaExceeded:
    """The error for the refused budgets; retry when the last of them has reset."""
    budget, reserve = max(refused, key=lambda item: item[0].reset)
    left = max(0, (budget.limit or 0) - budget.used)
    if budget.name.startswith("cost"):
        detail = f"{from_nanos(left):.6g} left, this request may cost {from_nanos(reserve):.6g}"
    else:
        detail = f"{left} tokens left, this request may use {reserve}"
    period = "today" if budget.name.endswith("day") else "this month"
    return QuotaExceeded(
        f"your {budget.name.replace('_', ' ')} budget is spent for {period} ({detail})",
        retry_after=max(budget.reset, 0.001),
        param=budget.name,
    )


def admission(
    admission_id: str,
    user_id: str,
    policy: LimitPolicy,
    periods: Periods,
    after: Observed,
    *,
    reserve_tokens: int,
    reserve_nanos: int,
    now: float,
) -> Admission:
    """The admission, with header values computed from the counters *after* it."""
    rpm = policy.requests_per_minute
    oldest = now if after.oldest_request is None else after.oldest_request
    limit_tokens, remaining_tokens, reset_tokens = _tightest_tokens(policy, periods, after)
    return Admission(
        id=admission_id,
        user_id=user_id,
        reserved_tokens=reserve_tokens,
        reserved_cost=from_nanos(reserve_nanos),
        day=periods.day,
        month=periods.month,
        admitted_at=now,
        limit_requests=rpm,
        remaining_requests=None if rpm is None else max(0, rpm - after.requests),
        reset_requests=max(oldest + WINDOW_SECONDS - now, 0.0),
        limit_tokens=limit_tokens,
        remaining_tokens=remaining_tokens,
        reset_tokens=reset_tokens,
    )


def _tightest_tokens(
    policy: LimitPolicy, periods: Periods, seen: Observed
) -> tuple[int | None, int | None, float]:
    candidates = [
        (limit, max(0, limit - used), reset)
        for limit, used, reset in (
            (policy.tokens_per_day, seen.tokens_day, periods.day_reset),
            (policy.tokens_per_month, seen.tokens_month, periods.month_reset),
        )
        if limit is not None
    ]
    if not candidates:
        return None, None, 0.0
    return min(candidates, key=lambda item: item[1])


def snapshot(
    user_id: str, policy: LimitPolicy, periods: Periods, seen: Observed, now: float
) -> UsageSnapshot:
    oldest = seen.oldest_request
    return UsageSnapshot(
        user_id=user_id,
        as_of=now,
        requests=_meter(
            seen.requests,
            policy.requests_per_minute,
            0.0 if oldest is None else oldest + WINDOW_SECONDS - now,
        ),
        streams=_meter(seen.streams, policy.concurrent_streams, 0.0),
        tokens_day=_meter(seen.tokens_day, policy.tokens_per_day, periods.day_reset),
        tokens_month=_meter(seen.tokens_month, policy.tokens_per_month, periods.month_reset),
        cost_day=_cost_meter(seen.cost_day, policy.cost_per_day, periods.day_reset),
        cost_month=_cost_meter(seen.cost_month, policy.cost_per_month, periods.month_reset),
    )


def _meter(used: int, limit: int | None, reset: float) -> Meter[int]:
    remaining = None if limit is None else max(0, limit - used)
    return Meter(used=used, limit=limit, remaining=remaining, reset_seconds=max(reset, 0.0))


def _cost_meter(used_nanos: int, limit: float | None, reset: float) -> Meter[float]:
    remaining = None if limit is None else from_nanos(max(0, to_nanos(limit) - used_nanos))
    return Meter(
        used=from_nanos(used_nanos), limit=limit, remaining=remaining, reset_seconds=max(reset, 0.0)
    )


def ratelimit_headers(admission: Admission) -> dict[str, str]:
    """OpenAI-style ``x-ratelimit-*`` headers for an admission (unlimited ones omitted)."""
    headers: dict[str, str] = {}
    if admission.limit_requests is not None and admission.remaining_requests is not None:
        headers["x-ratelimit-limit-requests"] = str(admission.limit_requests)
        headers["x-ratelimit-remaining-requests"] = str(admission.remaining_requests)
        headers["x-ratelimit-reset-requests"] = duration(admission.reset_requests)
    if admission.limit_tokens is not None and admission.remaining_tokens is not None:
        headers["x-ratelimit-limit-tokens"] = str(admission.limit_tokens)
        headers["x-ratelimit-remaining-tokens"] = str(admission.remaining_tokens)
        headers["x-ratelimit-reset-tokens"] = duration(admission.reset_tokens)
    return headers


def duration(seconds: float) -> str:
    """Seconds in OpenAI's header style: ``20ms``, ``45s``, ``6m0s``, ``3h2m1s``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
