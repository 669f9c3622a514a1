"""Throwaway Redis key spaces for the limit and throttle tests.

The server is expected on 127.0.0.1:6379 (CI has it; override with ``HABLA_TEST_REDIS``).
Each caller gets a random key prefix whose keys are deleted afterwards, so parallel or
repeated runs never collide. An unreachable server is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("HABLA_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def _client() -> aioredis.Redis:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise RuntimeError(
            f"the Redis test server is not reachable at {REDIS_URL} ({exc!r}); these tests"
            " need it (CI runs one): start Redis or set HABLA_TEST_REDIS"
        ) from exc
    return client


async def drop_keys(client: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)


@contextlib.asynccontextmanager
async def keyspace() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A live client and a fresh key prefix; every key under it is deleted afterwards."""
    client = await _client()
    prefix = f"habla-test-{uuid.uuid4().hex}"
    try:
        yield client, prefix
    finally:
        await drop_keys(client, prefix)
        await client.aclose()
