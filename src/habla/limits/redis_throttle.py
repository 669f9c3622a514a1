"""Sign-in throttling on Redis, so every replica counts the same failed sign-ins.

Implements the :class:`~habla.auth.throttle.SignInThrottle` protocol (structurally: this
layer does not import :mod:`habla.auth`) with the same rules as the in-process
``MemorySignInThrottle``: failures per account name and per address in a sliding window;
``per_account`` (5) or ``per_ip`` (20) failures lock that account or address until its
oldest failure in the window ages out; a success clears the account's count only.

Each key is a sorted set of failure times, trimmed to the newest ``limit`` entries and
expiring with the window, so memory stays bounded and Redis needs no persistence. A
failure is recorded in one MULTI/EXEC transaction. Account names are hashed into the
key, so a crafted name cannot reach into another key. Times come from the caller
(``now``), like the rest of the limits. Unreachable Redis becomes
:class:`~habla.core.errors.BackendUnavailable`: sign-in is refused rather than left
unthrottled.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from habla.core.errors import BackendUnavailable, ConfigError
from habla.limits.policy import check_amount

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisSignInThrottle:
    """``client``: a URL (the throttle owns and closes the connection) or a
    ``redis.asyncio.Redis`` the caller owns."""

    def __init__(
        self,
        client: str | Redis,
        *,
        key_prefix: str = "habla",
        per_account: int = 5,
        per_ip: int = 20,
        window_seconds: float = 15 * 60,
    ) -> None:
        try:
            import redis.asyncio as aioredis
            from redis.exceptions import RedisError
        except ImportError as exc:
            raise ConfigError(
                'a shared sign-in throttle needs the redis package: pip install "habla[redis]"'
            ) from exc
        if not key_prefix:
            raise ConfigError("the Redis key prefix must not be empty")
        check_amount("window_seconds", window_seconds)
        if per_account < 1 or per_ip < 1:
            raise ConfigError("sign-in throttle limits must be at least 1")
        self._owned = isinstance(client, str)
        self._client: Redis = aioredis.from_url(client) if isinstance(client, str) else client
        self._errors: tuple[type[Exception], ...] = (RedisError, OSError)
        self._prefix = f"{key_prefix}:signin"
        self._per_account = per_account
        self._per_ip = per_ip
        self._window = window_seconds

    async def retry_after(self, account: str, ip: str | None, now: datetime) -> float | None:
        waits = [await self._wait(self._account_key(account), self._per_account, now)]
        if ip is not None:
            waits.append(await self._wait(self._ip_key(ip), self._per_ip, now))
        known = [wait for wait in waits if wait is not None]
        return max(known) if known else None

    async def failed(self, account: str, ip: str | None, now: datetime) -> None:
        keys = [(self._account_key(account), self._per_account)]
        if ip is not None:
            keys.append((self._ip_key(ip), self._per_ip))
        stamp = now.timestamp()
        member = f"{stamp!r}:{uuid.uuid4().hex[:12]}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for key, limit in keys:
                    pipe.zadd(key, {member: stamp})
                    pipe.zremrangebyscore(key, "-inf", stamp - self._window)
                    pipe.zremrangebyrank(key, 0, -(limit + 1))  # keep the newest `limit`
                    pipe.pexpire(key, int(self._window * 1000) + 1000)
                await pipe.execute()
        except self._errors as exc:
            raise _unavailable() from exc

    async def succeeded(self, account: str, ip: str | None, now: datetime) -> None:
        await self._call(self._client.delete, self._account_key(account))

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()

    async def _wait(self, key: str, limit: int, now: datetime) -> float | None:
        stamp = now.timestamp()
        # The newest `limit` failures still in the window; locked when there are `limit`.
        recent = await self._call(
            self._client.zrevrangebyscore,
            key,
            "+inf",
            f"({stamp - self._window!r}",
            start=0,
            num=limit,
            withscores=True,
        )
        if len(recent) < limit:
            return None
        oldest_counted = float(recent[-1][1])
        return max(1.0, oldest_counted + self._window - stamp)

    def _account_key(self, account: str) -> str:
        digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self._prefix}:acct:{digest}"

    def _ip_key(self, ip: str) -> str:
        digest = hashlib.sha256(ip.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self._prefix}:ip:{digest}"

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except self._errors as exc:
            raise _unavailable() from exc


def _unavailable() -> BackendUnavailable:
    return BackendUnavailable(
        "the sign-in throttle (Redis) is unreachable; try again shortly", retry_after=1.0
    )
