"""The TelegramStore contract over memory, SQLite and PostgreSQL: update claims, chat
state, blocked/refused marks, one-time link codes and links."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import storetest
from habla.core.errors import Conflict, NotFound
from habla.store.memory import MemoryStore
from habla.store.sql import SqlStore
from habla.store.telegram import ChatState

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
Store = MemoryStore | SqlStore


# The shared store fixtures (storetest.py), bound here so that pytest finds them.
pg_url = storetest.pg_url
store = storetest.store


@pytest.fixture
def tg_id() -> int:
    """A fresh Telegram id per test (the PostgreSQL database is shared by the module)."""
    return random.randrange(10**9, 10**12)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_an_update_is_claimed_once_even_concurrently(store: Store, tg_id: int) -> None:
    old = T0 - timedelta(days=2)
    claims = await asyncio.gather(
        *(store.claim_update(tg_id, at=T0, forget_before=old) for _ in range(5))
    )
    assert sorted(claims) == [False, False, False, False, True]
    assert not await store.claim_update(tg_id, at=T0, forget_before=old)


async def test_old_claims_are_forgotten(store: Store, tg_id: int) -> None:
    assert await store.claim_update(tg_id, at=T0, forget_before=T0 - timedelta(days=1))
    later = T0 + timedelta(days=2)
    assert await store.claim_update(tg_id, at=later, forget_before=later - timedelta(days=1))


async def test_chat_state_is_saved_and_replaced(store: Store, tg_id: int) -> None:
    assert await store.get_chat(-tg_id, tg_id) is None
    state = ChatState(-tg_id, tg_id, "conv1", "pirate", None, T0)
    await store.save_chat(state)
    assert await store.get_chat(-tg_id, tg_id) == state
    newer = ChatState(-tg_id, tg_id, None, "pirate", "scripted:t", T0 + timedelta(hours=1))
    await store.save_chat(newer)
    assert await store.get_chat(-tg_id, tg_id) == newer
    assert await store.get_chat(-tg_id, tg_id + 1) is None  # per user inside a chat


async def test_blocked_and_refused_marks(store: Store, tg_id: int) -> None:
    assert not await store.is_blocked(tg_id)
    assert await store.mark_refused(tg_id, at=T0)
    assert not await store.mark_refused(tg_id, at=T0)
    await store.set_blocked(tg_id, at=T0)
    assert await store.is_blocked(tg_id)
    assert not await store.mark_refused(tg_id, at=T0)  # blocking kept the refusal
    await store.set_blocked(tg_id, at=None)
    assert not await store.is_blocked(tg_id)
    await store.set_blocked(tg_id + 1, at=T0)  # a user never seen before
    assert await store.is_blocked(tg_id + 1)
    assert await store.mark_refused(tg_id + 1, at=T0)


async def test_a_link_code_is_single_use_and_expires(store: Store, tg_id: int) -> None:
    user = await store.create_user(f"u{uuid.uuid4().hex[:8]}", "user")
    await store.add_link_code(_hash("a"), user.id, expires_at=T0 + timedelta(minutes=10))
    await store.add_link_code(_hash("b"), user.id, expires_at=T0 + timedelta(minutes=10))
    with pytest.raises(Conflict):
        await store.add_link_code(_hash("a"), user.id, expires_at=T0 + timedelta(minutes=10))
    with pytest.raises(NotFound):
        await store.add_link_code(_hash("c"), "no-such-user", expires_at=T0)
    assert await store.redeem_link_code(_hash("zzz"), tg_id, at=T0) is None
    assert await store.redeem_link_code(_hash("b"), tg_id, at=T0 + timedelta(minutes=10)) is None
    assert await store.get_link(tg_id) is None  # an expired code changed nothing
    results = await asyncio.gather(
        store.redeem_link_code(_hash("a"), tg_id, at=T0),
        store.redeem_link_code(_hash("a"), tg_id + 1, at=T0),
    )
    assert sorted(results, key=str) == sorted([user.id, None], key=str)
    winner = tg_id if results[0] else tg_id + 1
    link = await store.get_link(winner)
    assert link is not None
    assert (link.user_id, link.linked_at) == (user.id, T0)


async def test_relinking_replaces_and_unlinking_removes(store: Store, tg_id: int) -> None:
    first = await store.create_user(f"u{uuid.uuid4().hex[:8]}", "user")
    second = await store.create_user(f"u{uuid.uuid4().hex[:8]}", "user")
    for name, user in (("x", first), ("y", second)):
        await store.add_link_code(_hash(name + str(tg_id)), user.id, expires_at=T0 + timedelta(1))
    assert await store.redeem_link_code(_hash("x" + str(tg_id)), tg_id, at=T0) == first.id
    assert await store.redeem_link_code(_hash("y" + str(tg_id)), tg_id, at=T0) == second.id
    link = await store.get_link(tg_id)
    assert link is not None and link.user_id == second.id
    assert await store.remove_link(tg_id)
    assert not await store.remove_link(tg_id)
    assert await store.get_link(tg_id) is None
