"""SEC-AUTH / SEC-LOG: AccountService over the memory store and SQLite.

Authentication by API key and JWT (revoked, disabled, stale, expired, junk), sign-in with
its throttle and anti-enumeration, who may do what, and an audit log free of secrets.
Time comes from a fake clock; the argon2 parameters are cheap so the suite stays fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from habla.auth.passwords import Passwords
from habla.auth.service import AccountService
from habla.core.errors import (
    AuthError,
    ConfigError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from habla.core.identity import Principal
from habla.store.accounts import AccountStore, UserLimits
from habla.store.memory import MemoryStore
from habla.store.sql import SqlStore
from test_auth import FAST, SECRET, FakeClock

ADMIN_PW = "admin password 123"
USER_PW = "user password 4567"
IP = "203.0.113.7"


@dataclass
class World:
    store: AccountStore
    clock: FakeClock
    service: AccountService
    secrets: list[str] = field(default_factory=list)  # everything that must never be logged

    def keep(self, *values: str) -> None:
        self.secrets.extend(values)


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    made: MemoryStore | SqlStore
    if request.param == "memory":
        made = MemoryStore()
    else:
        made = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'habla.db'}")
    await made.start()
    clock = FakeClock()
    service = AccountService(made, jwt_secret=SECRET, clock=clock, passwords=Passwords(**FAST))
    try:
        yield World(made, clock, service, [SECRET, ADMIN_PW, USER_PW])
    finally:
        await made.close()


async def _admin(world: World) -> Principal:
    await world.service.create_user(None, "root", "admin", ADMIN_PW)
    token, _ = await world.service.sign_in("root", ADMIN_PW, IP)
    world.keep(token)
    return await world.service.authenticate(f"Bearer {token}", IP)


async def _user(world: World, name: str = "alice") -> Principal:
    await world.service.create_user(None, name, "user", USER_PW)
    full, _ = await world.service.create_key(None, name, "test")
    world.keep(full)
    return await world.service.authenticate(full, IP)


async def _refused(world: World, bearer: str) -> None:
    with pytest.raises(AuthError) as caught:
        await world.service.authenticate(bearer, IP)
    assert type(caught.value) is AuthError
    assert str(caught.value) == "invalid credentials"


# -- API keys ----------------------------------------------------------------------------


async def test_api_key_authenticates_and_records_use(world: World) -> None:
    user = await world.service.create_user(None, "alice", "user")
    full, record = await world.service.create_key(None, "alice", "laptop")
    principal = await world.service.authenticate(f"Bearer {full}", IP)
    assert principal == Principal(user.id, "alice", "user", via="api_key", key_id=record.id)
    assert await world.service.authenticate(full) == principal  # bare key works too
    [stored] = await world.store.list_api_keys(user.id)
    first_use = world.clock.now
    assert stored.last_used_at == first_use
    world.clock.advance(seconds=30)  # within the touch interval (60 s): no write
    await world.service.authenticate(full, IP)
    [stored] = await world.store.list_api_keys(user.id)
    assert stored.last_used_at == first_use
    world.clock.advance(seconds=61)
    await world.service.authenticate(full, IP)
    [stored] = await world.store.list_api_keys(user.id)
    assert stored.last_used_at == world.clock.now


async def test_revoked_key_and_disabled_user_are_refused(world: World) -> None:
    admin = await _admin(world)
    await world.service.create_user(admin, "alice", "user")
    full, record = await world.service.create_key(admin, "alice", "k1")
    other, _ = await world.service.create_key(admin, "alice", "k2")
    await world.service.revoke_key(admin, record.id)
    await _refused(world, full)
    await world.service.authenticate(other, IP)
    await world.service.disable(admin, "alice")
    await _refused(world, other)
    await world.service.enable(admin, "alice")
    assert (await world.service.authenticate(other, IP)).name == "alice"


async def test_a_well_formed_unknown_key_is_refused(world: World) -> None:
    await _user(world)
    await _refused(world, "hbl_abcdefgh_" + "A" * 43)


JUNK = [
    "",
    "Bearer",
    "Bearer ",
    "Bearer ' OR 1=1 --",
    "' OR 1=1 --",
    "Basic YWxpY2U6cGFzc3dvcmQ=",
    "hbl_",
    "hbl_' OR '1'='1'_" + "A" * 30,
    "Bearer hbl_abcdefgh_" + "A" * 42 + "'",
    "a.b.c",
    "..",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    "x" * 100_000,
    "\x00\x01\x02",
    "\ud800",
    "Bearer \ud800.\udfff.x",
    "🙂" * 10,
    "null",
    "Bearer Bearer abc",
]


async def test_junk_credentials_are_only_ever_auth_errors(world: World) -> None:
    await _user(world)
    for bearer in JUNK:
        await _refused(world, bearer)


async def test_refusals_are_audited_without_the_credential_and_sampled(world: World) -> None:
    for i in range(30):
        await _refused(world, f"Bearer wrong-{i}-credential")
    rows = [r for r in await world.store.tail_audit(100) if r.action == "request.refused"]
    assert len(rows) == 10  # per address per minute
    assert all(r.ip == IP and r.actor == "anonymous" for r in rows)
    assert not any("wrong-" in f"{r.target} {r.detail}" for r in rows)
    world.clock.advance(minutes=2)
    await _refused(world, "Bearer wrong-again")
    assert (await world.store.tail_audit(1))[0].action == "request.refused"


# -- JWT ---------------------------------------------------------------------------------


async def test_sign_in_then_authenticate_with_the_token(world: World) -> None:
    user = await world.service.create_user(None, "Alice", "user", USER_PW)
    token, expires_at = await world.service.sign_in("alice", USER_PW, IP)  # any case
    assert expires_at == world.clock.now + timedelta(hours=12)
    principal = await world.service.authenticate(f"Bearer {token}", IP)
    assert principal == Principal(user.id, "Alice", "user", via="jwt")
    assert await world.service.authenticate(token) == principal


async def test_token_expires(world: World) -> None:
    await world.service.create_user(None, "alice", "user", USER_PW)
    token, _ = await world.service.sign_in("alice", USER_PW)
    world.clock.advance(hours=11, minutes=59)
    await world.service.authenticate(token)
    world.clock.advance(minutes=1)
    await _refused(world, token)


async def test_role_change_password_change_and_disable_invalidate_tokens(world: World) -> None:
    admin = await _admin(world)
    await world.service.create_user(admin, "alice", "user", USER_PW)
    token, _ = await world.service.sign_in("alice", USER_PW)
    await world.service.set_role(admin, "alice", "admin")
    await _refused(world, token)  # stale ver: the old token said "user"
    token, _ = await world.service.sign_in("alice", USER_PW)
    assert (await world.service.authenticate(token)).role == "admin"

    new_pw = "a brand new password"
    world.keep(new_pw)
    await world.service.set_password(admin, "alice", new_pw)
    await _refused(world, token)
    with pytest.raises(AuthError):
        await world.service.sign_in("alice", USER_PW)
    token, _ = await world.service.sign_in("alice", new_pw)

    await world.service.disable(admin, "alice")
    await _refused(world, token)
    await world.service.enable(admin, "alice")
    await _refused(world, token)  # enabling again does not revive old tokens


async def test_without_a_jwt_secret_only_keys_work(tmp_path: Path) -> None:
    store = MemoryStore()
    service = AccountService(store, jwt_secret=None, passwords=Passwords(**FAST))
    assert not service.sign_in_enabled
    await service.create_user(None, "alice", "user", USER_PW)
    with pytest.raises(ConfigError):
        await service.sign_in("alice", USER_PW)
    other = AccountService(store, jwt_secret=SECRET, passwords=Passwords(**FAST))
    token, _ = await other.sign_in("alice", USER_PW)
    with pytest.raises(AuthError):
        await service.authenticate(token)
    full, _ = await service.create_key(None, "alice", "k")
    assert (await service.authenticate(full)).via == "api_key"
    with pytest.raises(ConfigError):
        AccountService(store, jwt_secret="too short")


# -- sign-in -----------------------------------------------------------------------------


async def test_every_sign_in_failure_looks_the_same(world: World) -> None:
    admin = await _admin(world)
    await world.service.create_user(admin, "alice", "user", USER_PW)
    await world.service.create_user(admin, "nopw", "user")
    await world.service.create_user(admin, "gone", "user", USER_PW)
    await world.service.disable(admin, "gone")
    attempts = [
        ("alice", "wrong password!!"),
        ("nobody", USER_PW),
        ("nopw", ""),
        ("gone", USER_PW),  # right password, disabled user
        ("' OR 1=1 --", "x"),
        ("x" * 10_000, "y" * 10_000),
    ]
    messages: set[str] = set()
    for name, password in attempts:
        with pytest.raises(AuthError) as caught:
            await world.service.sign_in(name, password, f"198.51.100.{len(messages)}")
        assert type(caught.value) is AuthError
        messages.add(str(caught.value))
    assert messages == {"wrong name or password"}
    failed = [r for r in await world.store.tail_audit(50) if r.action == "signin.failed"]
    assert len(failed) == len(attempts)
    assert {r.target for r in failed} == {"alice", "(unknown user)", "nopw", "gone"}


async def test_sign_in_throttle_per_account(world: World) -> None:
    await world.service.create_user(None, "alice", "user", USER_PW)
    for i in range(5):
        with pytest.raises(AuthError):
            await world.service.sign_in("alice", f"guess number {i}", f"10.0.0.{i}")
    with pytest.raises(RateLimited) as caught:
        await world.service.sign_in("ALICE", USER_PW, "10.0.1.1")  # right password, locked
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 15 * 60
    for _ in range(30):
        with pytest.raises(RateLimited):
            await world.service.sign_in("alice", "hammering away", "10.0.1.1")
    throttled = [r for r in await world.store.tail_audit(100) if r.detail == "throttled"]
    assert len(throttled) == 10  # sampled: hammering cannot flood the audit log
    await world.service.create_user(None, "bob", "user", USER_PW)
    await world.service.sign_in("bob", USER_PW, "10.0.0.1")  # others are unaffected
    world.clock.advance(minutes=15)
    await world.service.sign_in("alice", USER_PW, "10.0.1.1")


async def test_sign_in_throttle_per_address(world: World) -> None:
    await world.service.create_user(None, "alice", "user", USER_PW)
    for i in range(20):
        with pytest.raises(AuthError):
            await world.service.sign_in(f"victim{i}", "some guess here", IP)
    with pytest.raises(RateLimited):
        await world.service.sign_in("alice", USER_PW, IP)
    await world.service.sign_in("alice", USER_PW, "203.0.113.8")


async def test_success_resets_the_account_count(world: World) -> None:
    await world.service.create_user(None, "alice", "user", USER_PW)
    for _ in range(3):
        for i in range(4):
            with pytest.raises(AuthError):
                await world.service.sign_in("alice", f"typo {i} in password", "10.0.0.1")
        await world.service.sign_in("alice", USER_PW, "10.0.0.1")


async def test_sign_in_rehashes_an_outdated_hash(world: World) -> None:
    cheap = Passwords(time_cost=1, memory_cost_kib=8, parallelism=1)
    await world.store.create_user("alice", "user", cheap.hash(USER_PW))
    stronger = Passwords(time_cost=2, memory_cost_kib=16, parallelism=1)
    service = AccountService(world.store, jwt_secret=SECRET, clock=world.clock, passwords=stronger)
    token, _ = await service.sign_in("alice", USER_PW)
    user = await world.store.find_user_by_name("alice")
    assert user is not None and user.password_hash is not None
    assert not stronger.needs_rehash(user.password_hash)
    assert (await service.authenticate(token)).name == "alice"


# -- who may do what ---------------------------------------------------------------------


async def test_non_admins_cannot_administer(world: World) -> None:
    await _admin(world)
    alice = await _user(world, "alice")
    await _user(world, "bob")
    service = world.service
    attempts = [
        service.create_user(alice, "mallory", "admin", "mallory password"),
        service.create_user(alice, "mallory", "user"),
        service.set_role(alice, "alice", "admin"),
        service.disable(alice, "bob"),
        service.enable(alice, "bob"),
        service.set_limits(alice, "alice", UserLimits(requests_per_minute=10_000)),
        service.set_password(alice, "bob", "bob's new password"),
        service.list_users(alice),
        service.audit_tail(alice),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied) as caught:
            await attempt
        assert caught.value.code == "permission_denied"
        assert isinstance(caught.value, AuthError)
    assert await world.store.find_user_by_name("mallory") is None
    assert (await service.authenticate(world.secrets[-1])).role == "user"  # bob untouched


async def test_keys_are_never_broader_than_their_creator(world: World) -> None:
    admin = await _admin(world)
    alice = await _user(world, "alice")
    await _user(world, "bob")
    for target in ("root", "bob", "ROOT"):
        with pytest.raises(PermissionDenied):
            await world.service.create_key(alice, target, "escalate")
    full, record = await world.service.create_key(alice, "Alice", "mine")
    mine = await world.service.authenticate(full)
    assert (mine.user_id, mine.role, mine.key_id) == (alice.user_id, "user", record.id)
    admins_key, _ = await world.service.create_key(admin, "alice", "made by admin")
    assert (await world.service.authenticate(admins_key)).role == "user"
    assert {k.user_id for k in await world.service.list_keys(alice)} == {alice.user_id}
    assert len(await world.service.list_keys(admin)) == 4
    assert len(await world.service.list_keys(admin, user_name="bob")) == 1


async def test_revoking_someone_elses_key_is_not_found(world: World) -> None:
    admin = await _admin(world)
    alice = await _user(world, "alice")
    bob = await _user(world, "bob")
    with pytest.raises(NotFound):
        await world.service.revoke_key(alice, bob.key_id or "")
    await world.service.authenticate(world.secrets[-1])  # bob's key still works
    await world.service.revoke_key(alice, alice.key_id or "")
    await world.service.revoke_key(admin, bob.key_id or "")
    await _refused(world, world.secrets[-1])


async def test_own_password_needs_the_current_one(world: World) -> None:
    alice = await _user(world, "alice")
    new_pw = "alice's next password"
    world.keep(new_pw)
    with pytest.raises(AuthError):
        await world.service.set_password(alice, "alice", new_pw, current_password="wrong one!!")
    await world.service.set_password(alice, "alice", new_pw, current_password=USER_PW)
    await world.service.sign_in("alice", new_pw)


async def test_the_last_admin_stays(world: World) -> None:
    admin = await _admin(world)
    with pytest.raises(InvalidRequest, match="last enabled admin"):
        await world.service.set_role(admin, "root", "user")
    with pytest.raises(InvalidRequest, match="last enabled admin"):
        await world.service.disable(None, "root")
    await world.service.create_user(None, "second", "admin")
    await world.service.set_role(admin, "root", "user")


async def test_user_creation_rules(world: World) -> None:
    for bad in ("", " alice", "al ice", "-alice", "a" * 65, "al\nice", "ålice", "' OR 1=1 --"):
        with pytest.raises(InvalidRequest):
            await world.service.create_user(None, bad, "user")
    with pytest.raises(InvalidRequest):
        await world.service.create_user(None, "alice", "root")
    with pytest.raises(InvalidRequest, match="at least 12"):
        await world.service.create_user(None, "alice", "user", "short")
    await world.service.create_user(None, "alice", "user")
    with pytest.raises(Conflict):
        await world.service.create_user(None, "ALICE", "user")
    with pytest.raises(InvalidRequest):
        await world.service.create_key(None, "alice", "bad\nname")
    with pytest.raises(NotFound):
        await world.service.create_key(None, "nobody", "k")


async def test_ensure_admin_only_on_an_empty_store(world: World) -> None:
    made = await world.service.ensure_admin("root", ADMIN_PW)
    assert made is not None and made.role == "admin"
    assert await world.service.ensure_admin("other", ADMIN_PW) is None
    assert [u.name for u in await world.service.list_users(None)] == ["root"]


# -- the audit log -----------------------------------------------------------------------


async def test_audit_rows_hold_no_secrets(world: World) -> None:
    admin = await _admin(world)
    alice = await _user(world, "alice")
    full, record = await world.service.create_key(alice, "alice", "laptop")
    world.keep(full, full[13:], record.key_hash)
    token, _ = await world.service.sign_in("alice", USER_PW, IP)
    world.keep(token, token.split(".")[2])
    await world.service.authenticate(token, IP)
    with pytest.raises(AuthError):
        await world.service.sign_in("alice", ADMIN_PW, IP)  # someone else's password
    with pytest.raises(AuthError):
        await world.service.sign_in(USER_PW, USER_PW, IP)  # password typed as the name
    await _refused(world, full[:-1] + "x")
    await world.service.set_limits(admin, "alice", UserLimits(tokens_per_day=1000))
    await world.service.set_password(None, "alice", "yet another password")
    world.keep("yet another password")
    await world.service.revoke_key(alice, record.id)
    await _refused(world, full)
    for user in await world.store.list_users():
        if user.password_hash:
            world.keep(user.password_hash)

    rows = await world.service.audit_tail(admin, 1000)
    actions = {r.action for r in rows}
    assert {"user.created", "key.created", "key.revoked", "signin.ok", "signin.failed"} <= actions
    assert {"request.refused", "user.password_changed", "user.limits_changed"} <= actions
    for row in rows:
        text = " ".join(str(v) for v in (row.actor, row.action, row.target, row.ip, row.detail))
        for secret in world.secrets:
            assert secret not in text, (row, secret)
    created = next(r for r in rows if r.action == "key.created" and "laptop" in r.detail)
    assert (created.actor, created.target) == ("alice", "alice")
    assert f"key_id={record.id}" in created.detail
