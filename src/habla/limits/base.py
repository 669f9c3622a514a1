"""The limiter protocol and the values it trades in; shared rules for every limiter.

A :class:`Limiter` enforces a :class:`~habla.limits.policy.LimitPolicy` per habla user,
whatever the channel. A request's life is ``admit`` → generate → ``settle``:

- ``admit`` atomically checks the token and cost budgets (UTC calendar day and month),
  the requests-per-minute window and the concurrent-stream limit; it then records the
  request, takes a stream slot and *reserves* the request's worst case (prompt +
  ``max_tokens``, and its cost) against the budgets. If anything would be exceeded
  nothing is taken and it raises :class:`~habla.core.errors.QuotaExceeded` (a budget) or
  :class:`~habla.core.errors.RateLimited` (requests, streams) with ``retry_after``.
- ``settle`` replaces the reservation with what was really used and frees the slot. It
  is idempotent. Because every admitted request holds its worst case until it settles,
  concurrent requests cannot overshoot a budget (REL-QUOTA); only a request that uses
  more than it reserved can, and by no more than that excess.

Window semantics (the same in every limiter):

- requests per minute: a *sliding* 60 s log. A request admitted at ``t`` counts while
  ``now < t + 60``; when the limit is hit, ``retry_after`` is the time until the oldest
  counted request leaves the window.
- concurrent streams: a slot per admitted request, freed by ``settle`` or, if the
  process died first, when it expires ``slot_ttl`` seconds after admission.
- budgets: per UTC calendar day and month; they reset at 00:00 UTC and on the 1st.
  Reservations in flight count as used. Usage is counted even when a budget is unset,
  so snapshots always show it.

This module holds no state and talks to no store; the rules both limiters apply are in
``rules``, the limiters in ``memory`` and ``redis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from habla.limits.policy import LimitPolicy

WINDOW_SECONDS = 60.0
STREAM_RETRY_AFTER = 1.0  # a stream usually ends within seconds; ask the client to retry soon
DEFAULT_SLOT_TTL = 900.0  # longest stream we expect; a slot older than this is presumed dead
COUNTER_GRACE = 3600.0  # keep a finished period's counters this long for late settles
PENDING_TTL = 2 * 86400.0  # an unsettled admission is forgotten (its reservation kept) after
NANOS = 1_000_000_000  # costs are kept as integer 1e-9 units so sums are exact

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class Meter(Generic[N]):
    """One limit's state: ``limit``/``remaining`` are ``None`` when unlimited."""

    used: N
    limit: N | None
    remaining: N | None
    reset_seconds: float  # until this meter resets (window slot frees, day or month ends)


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted request: what it reserved and its rate-limit header values.

    ``day`` and ``month`` name the budget periods the reservation was charged to, so a
    request that ends after midnight settles against the day it started in.
    """

    id: str
    user_id: str
    reserved_tokens: int
    reserved_cost: float
    day: str  # "YYYYMMDD" (UTC)
    month: str  # "YYYYMM" (UTC)
    admitted_at: float
    limit_requests: int | None
    remaining_requests: int | None
    reset_requests: float  # seconds until one more request fits the window
    limit_tokens: int | None  # the tighter of the day/month token budgets
    remaining_tokens: int | None  # ...after this reservation
    reset_tokens: float  # seconds until that budget resets


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """A user's usage against a policy at ``as_of`` (for ``GET /v1/me/usage`` and the CLI).

    Token and cost ``used`` include reservations of requests still in flight.
    """

    user_id: str
    as_of: float
    requests: Meter[int]  # used = requests in the last 60 s
    streams: Meter[int]  # used = streams open now
    tokens_day: Meter[int]
    tokens_month: Meter[int]
    cost_day: Meter[float]
    cost_month: Meter[float]


class Limiter(Protocol):
    async def admit(
        self,
        user_id: str,
        policy: LimitPolicy,
        *,
        reserve_tokens: int,
        reserve_cost: float,
        now: float | None = None,
    ) -> Admission: ...

    async def settle(self, admission: Admission, *, used_tokens: int, used_cost: float) -> None:
        """Replaces the reservation with actual use and frees the slot; idempotent."""
        ...

    async def snapshot(
        self, user_id: str, policy: LimitPolicy, now: float | None = None
    ) -> UsageSnapshot: ...

    async def close(self) -> None: ...


# -- calendar periods ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Periods:
    """The UTC day and month containing a moment, and the seconds until each ends."""

    day: str
    month: str
    day_reset: float
    month_reset: float

    @classmethod
    def at(cls, now: float) -> Periods:
        moment = datetime.fromtimestamp(now, UTC)
        day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if moment.month == 12:
            next_month = day_start.replace(year=moment.year + 1, month=1, day=1)
        else:
            next_month = day_start.replace(month=moment.month + 1, day=1)
        return cls(
            day=moment.strftime("%Y%m%d"),
            month=moment.strftime("%Y%m"),
            day_reset=day_start.timestamp() + 86400.0 - now,
            month_reset=next_month.timestamp() - now,
        )
