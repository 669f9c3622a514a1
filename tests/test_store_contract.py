"""The one contract every ConversationStore keeps, run over memory, SQLite and PostgreSQL.

PostgreSQL is not optional here: the server on 127.0.0.1:5432 (see ``pgtest``) must be up,
and a run without it fails. The PostgreSQL database is shared by the tests of this module,
so every test works with its own freshly named users.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

import storetest
from habla.core.errors import NotFound
from habla.core.events import Usage
from habla.core.messages import Image, Message, Text
from habla.store.base import ConversationRecord, ConversationStore, UsageRecord

# The shared store fixtures (storetest.py), bound here so that pytest finds them.
pg_url = storetest.pg_url
store = storetest.store


@dataclass(frozen=True)
class Users:
    alice: str
    bob: str


@pytest.fixture
def users() -> Users:
    tag = uuid.uuid4().hex[:8]
    return Users(alice=f"alice-{tag}", bob=f"bob-{tag}")


async def _new(store: ConversationStore, user: str, title: str = "t") -> ConversationRecord:
    return await store.create_conversation(
        user_id=user, persona="default", model="echo:test", title=title
    )


async def _tick() -> None:
    # Lets the clock move on so "newer" is strictly newer; nothing asserts on durations.
    await asyncio.sleep(0.005)


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


# -- conversations -----------------------------------------------------------------------


async def test_create_then_get(store: ConversationStore, users: Users) -> None:
    made = await store.create_conversation(
        user_id=users.alice, persona="pirate", model="echo:test", title="Hola"
    )
    got = await store.get_conversation(made.id, user_id=users.alice)
    assert got == made
    assert (got.user_id, got.persona, got.model, got.title) == (
        users.alice,
        "pirate",
        "echo:test",
        "Hola",
    )
    assert _is_utc(got.created_at)
    assert _is_utc(got.updated_at)
    assert got.created_at == got.updated_at


async def test_get_missing_is_not_found(store: ConversationStore, users: Users) -> None:
    with pytest.raises(NotFound):
        await store.get_conversation(uuid.uuid4().hex, user_id=users.alice)


async def test_list_is_newest_first_by_update(store: ConversationStore, users: Users) -> None:
    first = await _new(store, users.alice, "first")
    await _tick()
    second = await _new(store, users.alice, "second")
    await _tick()
    third = await _new(store, users.alice, "third")
    listed = await store.list_conversations(user_id=users.alice)
    assert [c.id for c in listed] == [third.id, second.id, first.id]

    await _tick()
    await store.append_message(first.id, Message.of("user", "hi"), user_id=users.alice)
    await _tick()
    await store.rename_conversation(second.id, user_id=users.alice, title="renamed")
    listed = await store.list_conversations(user_id=users.alice)
    assert [c.id for c in listed] == [second.id, first.id, third.id]
    assert [c.id for c in await store.list_conversations(user_id=users.alice, limit=2)] == [
        second.id,
        first.id,
    ]


async def test_rename(store: ConversationStore, users: Users) -> None:
    made = await _new(store, users.alice, "old")
    await _tick()
    renamed = await store.rename_conversation(made.id, user_id=users.alice, title="new")
    assert renamed.title == "new"
    assert renamed.id == made.id
    assert renamed.created_at == made.created_at
    assert renamed.updated_at > made.updated_at
    assert await store.get_conversation(made.id, user_id=users.alice) == renamed


async def test_delete_removes_conversation_and_messages(
    store: ConversationStore, users: Users
) -> None:
    kept = await _new(store, users.alice, "kept")
    gone = await _new(store, users.alice, "gone")
    stored = await store.append_message(gone.id, Message.of("user", "x"), user_id=users.alice)
    await store.delete_conversation(gone.id, user_id=users.alice)

    with pytest.raises(NotFound):
        await store.get_conversation(gone.id, user_id=users.alice)
    with pytest.raises(NotFound):
        await store.list_messages(gone.id, user_id=users.alice)
    with pytest.raises(NotFound):
        await store.update_message_text(stored.id, user_id=users.alice, text="y", status="complete")
    with pytest.raises(NotFound):
        await store.delete_conversation(gone.id, user_id=users.alice)
    assert [c.id for c in await store.list_conversations(user_id=users.alice)] == [kept.id]


# -- ownership ---------------------------------------------------------------------------


async def test_another_users_conversation_is_not_found(
    store: ConversationStore, users: Users
) -> None:
    mine = await _new(store, users.alice, "private")
    msg = await store.append_message(mine.id, Message.of("user", "secret"), user_id=users.alice)
    before = await store.get_conversation(mine.id, user_id=users.alice)
    other = users.bob

    with pytest.raises(NotFound) as foreign:
        await store.get_conversation(mine.id, user_id=other)
    with pytest.raises(NotFound) as missing:
        await store.get_conversation(uuid.uuid4().hex, user_id=other)
    assert str(foreign.value) == str(missing.value)  # no hint that it exists

    assert await store.list_conversations(user_id=other) == []
    with pytest.raises(NotFound):
        await store.rename_conversation(mine.id, user_id=other, title="pwned")
    with pytest.raises(NotFound):
        await store.delete_conversation(mine.id, user_id=other)
    with pytest.raises(NotFound):
        await store.append_message(mine.id, Message.of("user", "hi"), user_id=other)
    with pytest.raises(NotFound):
        await store.list_messages(mine.id, user_id=other)
    with pytest.raises(NotFound):
        await store.update_message_text(msg.id, user_id=other, text="pwned", status="complete")

    # ...and none of those attempts changed anything.
    assert await store.get_conversation(mine.id, user_id=users.alice) == before
    assert [m.message for m in await store.list_messages(mine.id, user_id=users.alice)] == [
        Message.of("user", "secret")
    ]


async def test_unknown_message_id_is_not_found(store: ConversationStore, users: Users) -> None:
    with pytest.raises(NotFound):
        await store.update_message_text(
            uuid.uuid4().hex, user_id=users.alice, text="x", status="complete"
        )


# -- messages ----------------------------------------------------------------------------


async def test_messages_round_trip_in_order(store: ConversationStore, users: Users) -> None:
    conv = await _new(store, users.alice)
    picture = bytes(range(256)) + os.urandom(4096)
    sent = [
        Message.of("system", "Be brief."),
        Message("user", (Text("what is this? "), Image(picture, "image/png"), Text(" and?"))),
        Message.of("assistant", "héllo 👋 \x00 \ud800 <|im_start|>"),
    ]
    stored = [
        await store.append_message(conv.id, m, user_id=users.alice, model="echo:test") for m in sent
    ]
    assert [s.seq for s in stored] == [1, 2, 3]

    listed = await store.list_messages(conv.id, user_id=users.alice)
    assert listed == stored
    assert [s.message for s in listed] == sent
    assert listed[1].message.images[0].data == picture
    assert all(s.status == "complete" and s.model == "echo:test" for s in listed)
    assert all(s.conversation_id == conv.id and _is_utc(s.created_at) for s in listed)


async def test_append_bumps_updated_at(store: ConversationStore, users: Users) -> None:
    conv = await _new(store, users.alice)
    await _tick()
    stored = await store.append_message(conv.id, Message.of("user", "hi"), user_id=users.alice)
    after = await store.get_conversation(conv.id, user_id=users.alice)
    assert after.updated_at == stored.created_at
    assert after.updated_at > conv.updated_at
    assert after.created_at == conv.created_at


async def test_streaming_message_incomplete_then_complete(
    store: ConversationStore, users: Users
) -> None:
    conv = await _new(store, users.alice)
    await store.append_message(conv.id, Message.of("user", "tell me"), user_id=users.alice)
    draft = await store.append_message(
        conv.id,
        Message.of("assistant", ""),
        user_id=users.alice,
        status="incomplete",
        model="echo:test",
    )
    assert draft.status == "incomplete"
    await store.update_message_text(
        draft.id, user_id=users.alice, text="Once upon", status="incomplete"
    )
    middle = (await store.list_messages(conv.id, user_id=users.alice))[-1]
    assert (middle.message.text, middle.status) == ("Once upon", "incomplete")

    await store.update_message_text(
        draft.id, user_id=users.alice, text="Once upon a time.", status="complete"
    )
    final = (await store.list_messages(conv.id, user_id=users.alice))[-1]
    assert final.id == draft.id
    assert final.seq == draft.seq
    assert final.message == Message.of("assistant", "Once upon a time.")
    assert (final.status, final.model) == ("complete", "echo:test")


async def test_update_text_keeps_images(store: ConversationStore, users: Users) -> None:
    conv = await _new(store, users.alice)
    picture = os.urandom(100)
    msg = await store.append_message(
        conv.id,
        Message("user", (Text("old"), Image(picture, "image/jpeg"))),
        user_id=users.alice,
    )
    await store.update_message_text(msg.id, user_id=users.alice, text="new", status="complete")
    [got] = await store.list_messages(conv.id, user_id=users.alice)
    assert got.message == Message("user", (Text("new"), Image(picture, "image/jpeg")))


async def test_concurrent_appends_get_distinct_consecutive_seqs(
    store: ConversationStore, users: Users
) -> None:
    conv = await _new(store, users.alice)
    await store.append_message(conv.id, Message.of("user", "first"), user_id=users.alice)
    stored = await asyncio.gather(
        *(
            store.append_message(conv.id, Message.of("user", f"m{i}"), user_id=users.alice)
            for i in range(20)
        )
    )
    assert sorted(s.seq for s in stored) == list(range(2, 22))
    listed = await store.list_messages(conv.id, user_id=users.alice)
    assert [s.seq for s in listed] == list(range(1, 22))
    assert {s.id for s in listed[1:]} == {s.id for s in stored}


# -- usage -------------------------------------------------------------------------------


def _usage(user: str, conversation_id: str | None, prompt: int, completion: int) -> UsageRecord:
    return UsageRecord(
        user_id=user,
        conversation_id=conversation_id,
        model="echo:test",
        usage=Usage(prompt, completion),
        latency_ms=12,
        finish_reason="stop",
    )


async def test_usage_since_sums_only_the_users_rows_after_since(
    store: ConversationStore, users: Users
) -> None:
    conv = await _new(store, users.alice)
    await store.record_usage(_usage(users.alice, conv.id, 100, 10))
    await _tick()
    since = datetime.now(UTC)
    await _tick()
    await store.record_usage(_usage(users.alice, conv.id, 5, 7))
    await store.record_usage(_usage(users.alice, None, 1, 2))
    await store.record_usage(_usage(users.bob, None, 1000, 1000))

    assert await store.usage_since(user_id=users.alice, since=since) == Usage(6, 9)
    long_ago = since - timedelta(days=1)
    assert await store.usage_since(user_id=users.alice, since=long_ago) == Usage(106, 19)
    assert await store.usage_since(user_id=users.bob, since=long_ago) == Usage(1000, 1000)
    later = since + timedelta(hours=1)
    assert await store.usage_since(user_id=users.alice, since=later) == Usage()
    assert await store.usage_since(user_id=f"{users.alice}-nobody", since=long_ago) == Usage()


async def test_usage_since_accepts_any_timezone(store: ConversationStore, users: Users) -> None:
    await store.record_usage(_usage(users.alice, None, 3, 4))
    madrid_summer = timezone(timedelta(hours=2))
    an_hour_ago = datetime.now(madrid_summer) - timedelta(hours=1)
    assert await store.usage_since(user_id=users.alice, since=an_hour_ago) == Usage(3, 4)
    in_an_hour = datetime.now(madrid_summer) + timedelta(hours=1)
    assert await store.usage_since(user_id=users.alice, since=in_an_hour) == Usage()


async def test_usage_survives_deleting_its_conversation(
    store: ConversationStore, users: Users
) -> None:
    conv = await _new(store, users.alice)
    await store.record_usage(_usage(users.alice, conv.id, 2, 3))
    await store.delete_conversation(conv.id, user_id=users.alice)
    since = datetime.now(UTC) - timedelta(days=1)
    assert await store.usage_since(user_id=users.alice, since=since) == Usage(2, 3)
