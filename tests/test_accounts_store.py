"""The AccountStore contract (users, API keys, audit log) over memory, SQLite and PostgreSQL.

PostgreSQL is required, as in ``test_store_contract``: the database is shared by the
tests of this module, so every test uses freshly tagged names and only ever compares
counts as differences. The migrated SQL schema is checked against ``schema.py`` here too.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

import pgtest
import storetest
from habla.core.errors import Conflict, InvalidRequest, NotFound
from habla.store.accounts import AccountStore, AuditEntry, UserLimits
from habla.store.schema import VERSION_TABLE, metadata
from habla.store.sql import SqlStore
from storetest import sqlite_url

# The shared store fixtures (storetest.py), bound here so that pytest finds them.
pg_url = storetest.pg_url
store = storetest.store


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


# -- users -------------------------------------------------------------------------------


async def test_create_get_and_find_user(store: AccountStore, tag: str) -> None:
    made = await store.create_user(f"Alice-{tag}", "user", "$argon2id$fake")
    assert (made.name, made.role, made.enabled, made.token_version) == (
        f"Alice-{tag}",
        "user",
        True,
        0,
    )
    assert made.password_hash == "$argon2id$fake"
    assert made.limits == UserLimits()
    assert _is_utc(made.created_at)
    assert await store.get_user(made.id) == made
    assert await store.find_user_by_name(f"Alice-{tag}") == made
    assert await store.find_user_by_name(f"aLICE-{tag}") == made  # any case
    assert await store.find_user_by_name(f"alice-{tag}-nobody") is None


async def test_user_without_password(store: AccountStore, tag: str) -> None:
    made = await store.create_user(f"bot-{tag}", "user")
    assert made.password_hash is None
    assert (await store.get_user(made.id)).password_hash is None


async def test_names_are_unique_regardless_of_case(store: AccountStore, tag: str) -> None:
    before = await store.count_users()
    first = await store.create_user(f"bob-{tag}", "user")
    with pytest.raises(Conflict):
        await store.create_user(f"bob-{tag}", "admin")
    with pytest.raises(Conflict):
        await store.create_user(f"BOB-{tag}", "user")
    assert await store.count_users() == before + 1
    assert await store.find_user_by_name(f"Bob-{tag}") == first


async def test_concurrent_creates_of_one_name_make_one_user(store: AccountStore, tag: str) -> None:
    results = await asyncio.gather(
        *(store.create_user(f"race-{tag}", "user") for _ in range(8)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    assert len(made) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))


async def test_list_users_oldest_first_and_count(store: AccountStore, tag: str) -> None:
    before = await store.count_users()
    names = [f"u{i}-{tag}" for i in range(3)]
    for name in names:
        await store.create_user(name, "user")
        await asyncio.sleep(0.002)  # strictly increasing created_at; nothing asserts on time
    assert await store.count_users() == before + 3
    listed = [u.name for u in await store.list_users() if u.name.endswith(tag)]
    assert listed == names


async def test_unknown_user_is_not_found(store: AccountStore) -> None:
    with pytest.raises(NotFound):
        await store.get_user(uuid.uuid4().hex)
    with pytest.raises(NotFound):
        await store.update_user(uuid.uuid4().hex, role="admin")
    with pytest.raises(NotFound):
        await store.update_user(uuid.uuid4().hex)  # nothing to change still checks


async def test_unknown_role_is_refused(store: AccountStore, tag: str) -> None:
    with pytest.raises(InvalidRequest):
        await store.create_user(f"x-{tag}", "root")  # type: ignore[arg-type]
    user = await store.create_user(f"y-{tag}", "user")
    with pytest.raises(InvalidRequest):
        await store.update_user(user.id, role="superuser")  # type: ignore[arg-type]


async def test_token_version_bumps_on_real_changes_only(store: AccountStore, tag: str) -> None:
    user = await store.create_user(f"carol-{tag}", "user", "h0")
    steps: list[tuple[dict[str, Any], int]] = [
        ({"role": "admin"}, 1),
        ({"role": "admin"}, 1),  # same role: no bump
        ({"enabled": False}, 2),
        ({"enabled": False}, 2),
        ({"enabled": True}, 3),
        ({"password_hash": "h1"}, 4),
        ({"password_hash": "h1"}, 5),  # a password set is always a bump
        ({"limits": UserLimits(requests_per_minute=5)}, 5),  # limits never bump
        ({"role": "user", "enabled": False, "password_hash": "h2"}, 6),  # once per update
        ({}, 6),
    ]
    for change, version in steps:
        updated = await store.update_user(user.id, **change)
        assert updated.token_version == version, change
        assert await store.get_user(user.id) == updated
    final = await store.get_user(user.id)
    assert (final.role, final.enabled, final.password_hash) == ("user", False, "h2")
    assert final.created_at == user.created_at


async def test_concurrent_password_changes_never_lose_a_bump(store: AccountStore, tag: str) -> None:
    user = await store.create_user(f"dave-{tag}", "user")
    await asyncio.gather(*(store.update_user(user.id, password_hash=f"h{i}") for i in range(10)))
    assert (await store.get_user(user.id)).token_version == 10


async def test_limits_round_trip_and_clear(store: AccountStore, tag: str) -> None:
    user = await store.create_user(f"erin-{tag}", "user")
    big = UserLimits(requests_per_minute=30, tokens_per_day=5_000_000, tokens_per_month=2**40)
    assert (await store.update_user(user.id, limits=big)).limits == big
    assert (await store.get_user(user.id)).limits == big
    partial = UserLimits(tokens_per_day=10)
    assert (await store.update_user(user.id, limits=partial)).limits == partial
    assert (await store.update_user(user.id, limits=UserLimits())).limits == UserLimits()


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, float("nan"), "10"])
def test_limits_must_be_positive_whole_numbers(bad: Any) -> None:
    with pytest.raises(InvalidRequest):
        UserLimits(requests_per_minute=bad)
    with pytest.raises(InvalidRequest):
        UserLimits(tokens_per_month=bad)


async def test_hostile_names_are_just_text(store: AccountStore, tag: str) -> None:
    name = f"x'); DROP TABLE users; -- {tag} Ñandú"
    made = await store.create_user(name, "user")
    assert await store.find_user_by_name(name.upper()) == made
    assert await store.find_user_by_name("' OR 1=1 --") is None
    assert (await store.get_user(made.id)).name == name


# -- API keys ----------------------------------------------------------------------------


async def test_key_create_find_list(store: AccountStore, tag: str) -> None:
    alice = await store.create_user(f"alice-{tag}", "user")
    bob = await store.create_user(f"bob-{tag}", "user")
    k1 = await store.create_api_key(alice.id, "laptop", "abcd1234", _hash(f"k1{tag}"))
    k2 = await store.create_api_key(alice.id, "phone", "efgh5678", _hash(f"k2{tag}"))
    k3 = await store.create_api_key(bob.id, "ci", "ijkl9012", _hash(f"k3{tag}"))
    assert (k1.user_id, k1.name, k1.prefix, k1.key_hash) == (
        alice.id,
        "laptop",
        "abcd1234",
        _hash(f"k1{tag}"),
    )
    assert (k1.revoked, k1.revoked_at, k1.last_used_at) == (False, None, None)
    assert _is_utc(k1.created_at)
    assert await store.find_api_key_by_hash(_hash(f"k1{tag}")) == k1
    assert await store.find_api_key_by_hash(_hash(f"nope{tag}")) is None
    assert await store.find_api_key_by_hash("' OR 1=1 --") is None
    assert await store.list_api_keys(alice.id) == [k1, k2]
    assert await store.list_api_keys(bob.id) == [k3]
    everyone = [k for k in await store.list_api_keys() if k.user_id in (alice.id, bob.id)]
    assert {k.id for k in everyone} == {k1.id, k2.id, k3.id}


async def test_key_for_unknown_user_or_duplicate_hash(store: AccountStore, tag: str) -> None:
    with pytest.raises(NotFound):
        await store.create_api_key(uuid.uuid4().hex, "k", "abcd1234", _hash(f"a{tag}"))
    user = await store.create_user(f"frank-{tag}", "user")
    await store.create_api_key(user.id, "k", "abcd1234", _hash(f"b{tag}"))
    with pytest.raises(Conflict):
        await store.create_api_key(user.id, "again", "abcd1234", _hash(f"b{tag}"))
    assert len(await store.list_api_keys(user.id)) == 1


async def test_revoked_keys_are_found_but_marked(store: AccountStore, tag: str) -> None:
    user = await store.create_user(f"gina-{tag}", "user")
    key = await store.create_api_key(user.id, "k", "abcd1234", _hash(f"g{tag}"))
    revoked = await store.revoke_api_key(key.id)
    assert revoked.revoked and revoked.revoked_at is not None
    assert _is_utc(revoked.revoked_at)
    found = await store.find_api_key_by_hash(_hash(f"g{tag}"))
    assert found == revoked
    await asyncio.sleep(0.002)
    again = await store.revoke_api_key(key.id, user_id=user.id)
    assert again.revoked_at == revoked.revoked_at  # the first revocation time stays
    assert await store.list_api_keys(user.id) == [revoked]


async def test_revoke_checks_the_owner(store: AccountStore, tag: str) -> None:
    owner = await store.create_user(f"hal-{tag}", "user")
    other = await store.create_user(f"ivy-{tag}", "user")
    key = await store.create_api_key(owner.id, "k", "abcd1234", _hash(f"h{tag}"))
    with pytest.raises(NotFound) as foreign:
        await store.revoke_api_key(key.id, user_id=other.id)
    with pytest.raises(NotFound) as missing:
        await store.revoke_api_key(uuid.uuid4().hex, user_id=other.id)
    assert str(foreign.value) == str(missing.value)  # no hint that it exists
    with pytest.raises(NotFound):
        await store.revoke_api_key(uuid.uuid4().hex)
    assert await store.find_api_key_by_hash(_hash(f"h{tag}")) == key  # untouched
    assert (await store.revoke_api_key(key.id, user_id=owner.id)).revoked


async def test_touch_records_last_use(store: AccountStore, tag: str) -> None:
    user = await store.create_user(f"jo-{tag}", "user")
    key = await store.create_api_key(user.id, "k", "abcd1234", _hash(f"j{tag}"))
    at = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    await store.touch_api_key(key.id, at=at)
    found = await store.find_api_key_by_hash(_hash(f"j{tag}"))
    assert found is not None
    assert found.last_used_at == at
    await store.touch_api_key(key.id)
    found = await store.find_api_key_by_hash(_hash(f"j{tag}"))
    assert found is not None and found.last_used_at is not None
    assert found.last_used_at != at and _is_utc(found.last_used_at)
    await store.touch_api_key(uuid.uuid4().hex)  # unknown: ignored


# -- audit -------------------------------------------------------------------------------


async def test_audit_append_and_tail_newest_last(store: AccountStore, tag: str) -> None:
    base = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    entries = [
        AuditEntry(
            at=base + timedelta(seconds=i),
            actor=f"admin-{tag}",
            action=action,
            target=f"t{i}",
            ip="127.0.0.1" if i % 2 else None,
            detail=f"d{i}",
        )
        for i, action in enumerate(["user.created", "key.created", "key.revoked", "signin.ok"])
    ]
    for entry in entries:
        await store.append_audit(entry)
    tail = await store.tail_audit(4)
    assert [(r.at, r.actor, r.action, r.target, r.ip, r.detail) for r in tail] == [
        (e.at, e.actor, e.action, e.target, e.ip, e.detail) for e in entries
    ]
    assert [r.id for r in tail] == sorted(r.id for r in tail)
    assert [r.action for r in await store.tail_audit(2)] == ["key.revoked", "signin.ok"]
    assert await store.tail_audit(0) == []
    assert len(await store.tail_audit(1000)) >= 4


def test_the_audit_log_is_append_only() -> None:
    exposed = {n for n in dir(AccountStore) if not n.startswith("_")}
    assert {n for n in exposed if "audit" in n} == {"append_audit", "tail_audit"}


# -- schema ------------------------------------------------------------------------------


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_migrated_account_schema_matches_metadata(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind == "sqlite":
        url = sqlite_url(tmp_path / "fresh.db")
    else:
        url = pgtest.create_database()
        request.addfinalizer(lambda: pgtest.drop_database(url))
    store = SqlStore(url)
    try:
        await store.start()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            key_indexes = await conn.run_sync(
                lambda c: {i["name"] for i in inspect(c).get_indexes("api_keys")}
            )
    finally:
        await store.close()
    assert {"users", "api_keys", "audit_log"} <= names
    assert {"ix_api_keys_prefix", "ix_api_keys_user_id"} <= key_indexes
