"""Sign-in throttling: too many failures for one account, or from one address, wait.

:class:`SignInThrottle` is the protocol :class:`habla.auth.service.AccountService` uses;
:class:`MemorySignInThrottle` is the in-process implementation for one node (a shared one,
e.g. on Redis, can implement the same protocol). Failures are counted in a sliding window
(15 minutes): by default 5 per account name or 20 per IP address lock that account or
address until its oldest failure in the window ages out. A success clears the account's
count, not the address's, so signing in to one's own account cannot launder an address
that is guessing others' passwords.

:class:`RefusalSampler` bounds how many audit rows of the kind an anonymous caller can
repeat at will (refused requests, throttled sign-ins) one address can cause per minute,
so junk cannot flood the audit log.

Memory is bounded: expired entries are swept and, past ``max_tracked`` keys, the oldest
keys are dropped. Nothing here is persisted; a restart forgets all counts.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Protocol


class SignInThrottle(Protocol):
    async def retry_after(self, account: str, ip: str | None, now: datetime) -> float | None:
        """Seconds to wait when this account or address is locked, else ``None``."""
        ...

    async def failed(self, account: str, ip: str | None, now: datetime) -> None: ...

    async def succeeded(self, account: str, ip: str | None, now: datetime) -> None: ...


class _Window:
    """Failure times per key within a sliding window, with a bounded number of keys."""

    def __init__(self, limit: int, window: timedelta, max_tracked: int) -> None:
        self.limit = limit
        self.window = window
        self.max_tracked = max_tracked
        self._hits: dict[str, deque[datetime]] = {}

    def _live(self, key: str, now: datetime) -> deque[datetime] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str, now: datetime) -> float | None:
        hits = self._live(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        # Unlocks when enough of the oldest failures have left the window.
        unlock = hits[len(hits) - self.limit] + self.window
        return max(1.0, (unlock - now).total_seconds())

    def add(self, key: str, now: datetime) -> None:
        hits = self._live(key, now)
        if hits is None:
            if len(self._hits) >= self.max_tracked:
                self._sweep(now)
            hits = self._hits[key] = deque(maxlen=self.limit)
        hits.append(now)

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)

    def _sweep(self, now: datetime) -> None:
        for key in list(self._hits):
            self._live(key, now)
        while len(self._hits) >= self.max_tracked:
            del self._hits[next(iter(self._hits))]  # oldest inserted first


class MemorySignInThrottle:
    """The in-process :class:`SignInThrottle` (one node)."""

    def __init__(
        self,
        *,
        per_account: int = 5,
        per_ip: int = 20,
        window_seconds: float = 15 * 60,
        max_tracked: int = 100_000,
    ) -> None:
        window = timedelta(seconds=window_seconds)
        self._accounts = _Window(per_account, window, max_tracked)
        self._ips = _Window(per_ip, window, max_tracked)

    async def retry_after(self, account: str, ip: str | None, now: datetime) -> float | None:
        waits = [self._accounts.retry_after(account, now)]
        if ip is not None:
            waits.append(self._ips.retry_after(ip, now))
        known = [w for w in waits if w is not None]
        return max(known) if known else None

    async def failed(self, account: str, ip: str | None, now: datetime) -> None:
        self._accounts.add(account, now)
        if ip is not None:
            self._ips.add(ip, now)

    async def succeeded(self, account: str, ip: str | None, now: datetime) -> None:
        self._accounts.clear(account)


class RefusalSampler:
    """Lets through at most ``per_minute`` audit rows per address per minute."""

    def __init__(self, *, per_minute: int = 10, max_tracked: int = 100_000) -> None:
        self._window = _Window(per_minute, timedelta(minutes=1), max_tracked)

    def allow(self, ip: str | None, now: datetime) -> bool:
        key = ip or "-"
        if self._window.retry_after(key, now) is not None:
            return False
        self._window.add(key, now)
        return True
