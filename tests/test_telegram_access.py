"""Who may talk to the bot (allowlist, links, LDAP group) and the chat state's idle expiry,
over the memory store with an injected clock; LDAP through ldap3's own offline mock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ldap3
import pytest

from habla.auth.ldap import CachedDirectory, LdapGroupDirectory
from habla.auth.telegram_access import Allowlist, TelegramAccess, TelegramUser
from habla.chat.telegram_state import TelegramChats
from habla.core.errors import BackendUnavailable, ConfigError, RateLimited
from habla.store.memory import MemoryStore
from habla.store.telegram import ChatState

GROUP = "cn=bot-users,ou=groups,dc=example,dc=com"
PEOPLE = "uid={name},ou=people,dc=example,dc=com"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_allowlist_takes_ids_and_usernames() -> None:
    allowlist = Allowlist.parse(["123", "@Alice_B", "bob_c "])
    assert allowlist.allows(TelegramUser(123))
    assert allowlist.allows(TelegramUser(5, "alice_b"))
    assert allowlist.allows(TelegramUser(6, "BOB_C"))
    assert not allowlist.allows(TelegramUser(7, "mallory"))
    assert not allowlist.allows(TelegramUser(8))


@pytest.mark.parametrize("entry", ["@a", "al ice", "-5", "x" * 40, "@bob;drop"])
def test_a_bad_allowlist_entry_is_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="allowlist"):
        Allowlist.parse([entry])


async def test_allowlisted_users_act_as_their_own_principal() -> None:
    access = TelegramAccess(MemoryStore(), allowlist=Allowlist.parse(["@bea"]))
    principal = await access.principal_for(TelegramUser(42, "Bea"))
    assert principal is not None
    assert (principal.user_id, principal.role, principal.via) == ("tg:42", "user", "telegram")
    assert await access.principal_for(TelegramUser(43, "other")) is None


async def test_a_link_code_links_once_expires_and_is_audited() -> None:
    store, clock = MemoryStore(), Clock()
    access = TelegramAccess(store, allowlist=Allowlist.parse([]), clock=clock, code_ttl_seconds=60)
    ana = await store.create_user("ana", "admin")
    code = await access.create_link_code(None, "ana")
    assert len(code) == 14 and code.count("-") == 2
    linked = await access.redeem(TelegramUser(7), code.lower())  # case and dashes forgiven
    assert linked is not None and linked.id == ana.id
    principal = await access.principal_for(TelegramUser(7))
    assert principal is not None and (principal.user_id, principal.role) == (ana.id, "admin")
    assert await access.redeem(TelegramUser(8), code) is None  # single use
    late = await access.create_link_code(None, "ana")
    clock.now += timedelta(seconds=61)
    assert await access.redeem(TelegramUser(8), late) is None  # expired
    actions = [row.action for row in await store.tail_audit(10)]
    assert actions.count("telegram.link_code") == 2
    assert "telegram.linked" in actions
    assert all(code not in row.detail + row.target for row in await store.tail_audit(10))
    assert await access.unlink(TelegramUser(7))
    assert await access.principal_for(TelegramUser(7)) is None


async def test_a_disabled_user_loses_the_bot() -> None:
    store = MemoryStore()
    access = TelegramAccess(store, allowlist=Allowlist.parse([]))
    user = await store.create_user("dan", "user")
    assert await access.redeem(TelegramUser(9), await access.create_link_code(None, "dan"))
    await store.update_user(user.id, enabled=False)
    assert await access.principal_for(TelegramUser(9)) is None


async def test_wrong_codes_are_throttled_per_telegram_account() -> None:
    store, clock = MemoryStore(), Clock()
    access = TelegramAccess(store, allowlist=Allowlist.parse([]), clock=clock)
    await store.create_user("eve", "user")
    good = await access.create_link_code(None, "eve")
    for attempt in range(5):
        assert await access.redeem(TelegramUser(66), f"WRONG-{attempt}") is None
    with pytest.raises(RateLimited) as refused:
        await access.redeem(TelegramUser(66), good)
    assert refused.value.retry_after is not None and refused.value.retry_after > 60
    assert await access.redeem(TelegramUser(67), good) is not None  # others are not affected
    clock.now += timedelta(minutes=16)
    assert await access.redeem(TelegramUser(66), "WRONG-again") is None  # window passed


async def test_an_unknown_user_gets_no_code() -> None:
    access = TelegramAccess(MemoryStore(), allowlist=Allowlist.parse([]))
    with pytest.raises(Exception, match="no user named 'ghost'"):
        await access.create_link_code(None, "ghost")


async def test_strangers_are_refused_once_and_audited() -> None:
    store = MemoryStore()
    access = TelegramAccess(store, allowlist=Allowlist.parse([]))
    who = TelegramUser(13, "mallory")
    assert await access.refused(who, "not allowed")
    assert not await access.refused(who, "not allowed")
    rows = await store.tail_audit(10)
    assert rows[0].action == "telegram.refused"
    assert rows[0].target == "tg:13/@mallory"


# -- LDAP ---------------------------------------------------------------------------------


def _mock_directory(members: list[str]) -> Any:
    def connect() -> Any:
        server = ldap3.Server("mock")
        conn = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC)
        conn.strategy.add_entry(
            GROUP,
            {
                "objectClass": ["groupOfNames"],
                "cn": "bot-users",
                "member": [PEOPLE.format(name=m) for m in members],
            },
        )
        conn.bind()
        return conn

    return connect


async def test_ldap_group_membership_gates_linked_users() -> None:
    store = MemoryStore()
    directory = LdapGroupDirectory(
        _mock_directory(["ana"]), group_dn=GROUP, user_dn_template=PEOPLE
    )
    assert await directory.is_member("ana")
    assert not await directory.is_member("bob")
    assert not await directory.is_member("ana)(member=*")  # filter injection stays a name
    access = TelegramAccess(store, allowlist=Allowlist.parse([]), directory=directory)
    for name, tg in (("ana", 1), ("bob", 2)):
        await store.create_user(name, "user")
        assert await access.redeem(TelegramUser(tg), await access.create_link_code(None, name))
    assert await access.principal_for(TelegramUser(1)) is not None
    assert await access.principal_for(TelegramUser(2)) is None


async def test_an_unreachable_directory_lets_nobody_in() -> None:
    def broken() -> Any:
        raise ldap3.core.exceptions.LDAPSocketOpenError("connection refused")

    store = MemoryStore()
    directory = LdapGroupDirectory(broken, group_dn=GROUP, user_dn_template=PEOPLE)
    access = TelegramAccess(store, allowlist=Allowlist.parse([]), directory=directory)
    await store.create_user("ana", "user")
    await access.redeem(TelegramUser(1), await access.create_link_code(None, "ana"))
    with pytest.raises(BackendUnavailable):
        await access.principal_for(TelegramUser(1))


def test_the_user_dn_template_needs_a_placeholder() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        LdapGroupDirectory(lambda: None, group_dn=GROUP, user_dn_template="uid=x")


class CountingDirectory:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.members = {"ana"}

    async def is_member(self, name: str) -> bool:
        self.asked.append(name)
        return name in self.members


async def test_directory_answers_are_cached_for_the_ttl() -> None:
    inner, now = CountingDirectory(), [0.0]
    cached = CachedDirectory(inner, ttl_seconds=300, clock=lambda: now[0])
    assert await cached.is_member("ana")
    inner.members.clear()
    now[0] = 299
    assert await cached.is_member("ana")  # still the cached answer
    now[0] = 301
    assert not await cached.is_member("ana")  # asked again after the TTL
    assert inner.asked == ["ana", "ana"]


# -- chat state ---------------------------------------------------------------------------


async def test_a_chat_goes_idle_after_the_configured_time_keeping_its_choices() -> None:
    store, clock = MemoryStore(), Clock()
    chats = TelegramChats(store, idle_seconds=3600, clock=clock)
    state = await chats.current(5, 5)
    assert state.conversation_id is None
    await chats.choose(5, 5, persona="pirate")
    await chats.save(await chats.current(5, 5), conversation_id="c1")
    clock.now += timedelta(minutes=59)
    assert (await chats.current(5, 5)).conversation_id == "c1"
    await chats.save(await chats.current(5, 5), conversation_id="c1")  # activity resets it
    clock.now += timedelta(minutes=61)
    expired = await chats.current(5, 5)
    assert expired == ChatState(5, 5, None, "pirate", None, clock.now - timedelta(minutes=61))
