"""AccountService: who is calling (API key or JWT), sign-in, and account administration.

One object over an :class:`~habla.store.accounts.AccountStore`, built once by the
composition root and shared by every channel:

* :meth:`AccountService.authenticate` turns an ``Authorization`` credential (``Bearer``
  scheme optional) into a :class:`~habla.core.identity.Principal`, or raises
  :class:`~habla.core.errors.AuthError` with one generic message for every failure
  (unknown, malformed, revoked, expired, forged, stale, disabled). The reason goes to the
  audit log as ``request.refused`` (sampled per address), never to the caller.
* :meth:`AccountService.sign_in` checks a password (argon2id, in a worker thread), with the
  same message and the same work for unknown users, and throttles per account and per
  address (:mod:`habla.auth.throttle`).
* The management methods take the acting principal (``None`` means the local CLI, which is
  trusted). A non-admin may only mint and revoke their own keys and change their own
  password; everything else raises :class:`~habla.core.errors.PermissionDenied`.

Every mutation appends an audit entry (who, what, target, address); no audit row ever
holds a password, key, hash or token. This module does not parse HTTP, set cookies, or
enforce request or token limits (:mod:`habla.limits` does); it also trusts the
:class:`Principal` it is handed, so build one only through :meth:`authenticate`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from habla.auth.api_keys import ParsedKey, generate_key, parse_key, same_secret
from habla.auth.audit import Auditor, one_line
from habla.auth.passwords import Passwords, check_new_password
from habla.auth.signin import PasswordCheck, check_key_name, check_user_name
from habla.auth.throttle import MemorySignInThrottle, RefusalSampler, SignInThrottle
from habla.auth.tokens import (
    DEFAULT_TTL_SECONDS,
    INVALID_CREDENTIALS,
    MAX_TOKEN_LENGTH,
    Clock,
    TokenCodec,
    TokenRejected,
    looks_like_jwt,
    utc_now,
)
from habla.core.errors import (
    AuthError,
    ConfigError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
)
from habla.core.identity import Principal
from habla.store.accounts import (
    AccountStore,
    ApiKeyRecord,
    AuditRecord,
    UserLimits,
    UserRecord,
    check_role,
    name_key,
)

ADMIN_ONLY = "only an admin can do that"


class _Refused(Exception):
    def __init__(self, reason: str, target: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.target = target


def _actor(actor: Principal | None) -> str:
    return "cli" if actor is None else actor.name


def _is_admin(actor: Principal | None) -> bool:
    return actor is None or actor.is_admin


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        *,
        jwt_secret: str | None,
        token_ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Clock = utc_now,
        passwords: Passwords | None = None,
        throttle: SignInThrottle | None = None,
        refusals: RefusalSampler | None = None,
        touch_interval_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._tokens = (
            None
            if jwt_secret is None
            else TokenCodec(jwt_secret, ttl_seconds=token_ttl_seconds, clock=clock)
        )
        self._passwords = passwords or Passwords()
        self._auditor = Auditor(store, clock, refusals or RefusalSampler())
        self._check = PasswordCheck(
            store, self._passwords, throttle or MemorySignInThrottle(), self._auditor, clock
        )
        self._touch_interval = timedelta(seconds=touch_interval_seconds)

    @property
    def sign_in_enabled(self) -> bool:
        """Password sign-in (and so JWTs) needs a JWT secret; API keys work without."""
        return self._tokens is not None

    # -- authentication ------------------------------------------------------------------

    async def authenticate(self, bearer: str, ip: str | None = None) -> Principal:
        """The principal behind an API key or a JWT. Any failure: ``AuthError``."""
        try:
            credential = _strip_scheme(bearer)
            parsed = parse_key(credential)
            if parsed is not None:
                return await self._by_key(parsed)
            if self._tokens is not None and looks_like_jwt(credential):
                return await self._by_token(self._tokens, credential)
            raise _Refused("malformed credential" if credential else "no credential")
        except _Refused as refused:
            await self._auditor.refused(refused.reason, refused.target, ip)
        raise AuthError(INVALID_CREDENTIALS)

    async def _by_key(self, parsed: ParsedKey) -> Principal:
        record = await self._store.find_api_key_by_hash(parsed.key_hash)
        if (
            record is None
            or not same_secret(record.key_hash, parsed.key_hash)
            or not same_secret(record.prefix, parsed.prefix)
        ):
            raise _Refused("unknown key")
        if record.revoked:
            raise _Refused("revoked key", record.id)
        user = await self._user_or_none(record.user_id)
        if user is None or not user.enabled:
            raise _Refused("disabled user", record.id)
        now = self._clock()
        if record.last_used_at is None or now - record.last_used_at >= self._touch_interval:
            await self._store.touch_api_key(record.id, at=now)
        return Principal(user.id, user.name, user.role, via="api_key", key_id=record.id)

    async def _by_token(self, tokens: TokenCodec, token: str) -> Principal:
        try:
            claims = tokens.decode(token)
        except TokenRejected as rejected:
            raise _Refused(rejected.reason) from None
        user = await self._user_or_none(claims.user_id)
        if user is None:
            raise _Refused("token for an unknown user")
        if not user.enabled:
            raise _Refused("disabled user", user.name)
        if claims.token_version != user.token_version:
            raise _Refused("stale token", user.name)
        return Principal(user.id, user.name, user.role, via="jwt")

    async def _user_or_none(self, user_id: str) -> UserRecord | None:
        try:
            return await self._store.get_user(user_id)
        except NotFound:
            return None

    # -- sign-in -------------------------------------------------------------------------

    async def sign_in(
        self, name: str, password: str, ip: str | None = None
    ) -> tuple[str, datetime]:
        """A session token and its expiry. Wrong name, password or disabled: ``AuthError``."""
        if self._tokens is None:
            raise ConfigError("password sign-in is off: set a JWT secret (HABLA_JWT_SECRET)")
        user = await self._check.verified(name, password, ip)
        if user.password_hash is not None and self._passwords.needs_rehash(user.password_hash):
            new_hash = await asyncio.to_thread(self._passwords.hash, password)
            user = await self._store.update_user(user.id, password_hash=new_hash)
        await self._audit(user.name, "signin.ok", user.name, ip)
        return self._tokens.issue(user_id=user.id, token_version=user.token_version, role=user.role)

    # -- users ---------------------------------------------------------------------------

    async def ensure_admin(self, name: str, password: str) -> UserRecord | None:
        """Creates the configured first admin when there are no users at all; else None."""
        if await self._store.count_users() > 0:
            return None
        return await self._create_user("config", name, "admin", password, None)

    async def create_user(
        self,
        actor: Principal | None,
        name: str,
        role: str = "user",
        password: str | None = None,
        *,
        ip: str | None = None,
    ) -> UserRecord:
        _require_admin(actor)
        return await self._create_user(_actor(actor), name, role, password, ip)

    async def _create_user(
        self, actor: str, name: str, role: str, password: str | None, ip: str | None
    ) -> UserRecord:
        check_user_name(name)
        checked = check_role(role)
        password_hash = None
        if password is not None:
            check_new_password(password)
            password_hash = await asyncio.to_thread(self._passwords.hash, password)
        user = await self._store.create_user(name, checked, password_hash)
        await self._audit(actor, "user.created", user.name, ip, f"role={checked}")
        return user

    async def set_role(
        self, actor: Principal | None, name: str, role: str, *, ip: str | None = None
    ) -> UserRecord:
        _require_admin(actor)
        user = await self._named(name)
        checked = check_role(role)
        if user.role == "admin" and checked != "admin":
            await self._keep_an_admin(user)
        updated = await self._store.update_user(user.id, role=checked)
        detail = f"{user.role} -> {checked}"
        await self._audit(_actor(actor), "user.role_changed", user.name, ip, detail)
        return updated

    async def disable(
        self, actor: Principal | None, name: str, *, ip: str | None = None
    ) -> UserRecord:
        """Refuses the user's keys and tokens from now on; nothing is deleted."""
        _require_admin(actor)
        user = await self._named(name)
        if user.role == "admin":
            await self._keep_an_admin(user)
        updated = await self._store.update_user(user.id, enabled=False)
        await self._audit(_actor(actor), "user.disabled", user.name, ip)
        return updated

    async def enable(
        self, actor: Principal | None, name: str, *, ip: str | None = None
    ) -> UserRecord:
        _require_admin(actor)
        user = await self._named(name)
        updated = await self._store.update_user(user.id, enabled=True)
        await self._audit(_actor(actor), "user.enabled", user.name, ip)
        return updated

    async def set_password(
        self,
        actor: Principal | None,
        name: str,
        password: str,
        *,
        current_password: str | None = None,
        ip: str | None = None,
    ) -> UserRecord:
        """Admins set anyone's; a user sets their own with ``current_password``.

        Either way the user's existing JWTs stop working (``token_version`` is bumped).
        """
        if actor is not None and not actor.is_admin:
            if name_key(name) != name_key(actor.name):
                raise PermissionDenied("you can only change your own password")
            await self._check.verified(actor.name, current_password or "", ip)
        check_new_password(password)
        user = await self._named(name)
        new_hash = await asyncio.to_thread(self._passwords.hash, password)
        updated = await self._store.update_user(user.id, password_hash=new_hash)
        await self._audit(_actor(actor), "user.password_changed", user.name, ip)
        return updated

    async def set_limits(
        self, actor: Principal | None, name: str, limits: UserLimits, *, ip: str | None = None
    ) -> UserRecord:
        _require_admin(actor)
        user = await self._named(name)
        updated = await self._store.update_user(user.id, limits=limits)
        detail = (
            f"rpm={limits.requests_per_minute} day={limits.tokens_per_day}"
            f" month={limits.tokens_per_month}"
        )
        await self._audit(_actor(actor), "user.limits_changed", user.name, ip, detail)
        return updated

    async def limit_refused(
        self, principal: Principal, origin: str | None, refusal: RateLimited | QuotaExceeded
    ) -> None:
        """Audits a request a rate limit or quota refused (sampled per user, since a
        client retrying in a loop would otherwise write a row per attempt)."""
        await self._auditor.sampled(
            principal.name,
            "request.limited",
            principal.name,
            origin,
            f"{refusal.code}: {refusal.message}",
            per=f"user:{principal.user_id}",
        )

    async def get_user(self, actor: Principal | None, name: str) -> UserRecord:
        """One user by name, for admins; :class:`NotFound` names the missing user."""
        _require_admin(actor)
        return await self._named(name)

    async def list_users(self, actor: Principal | None) -> list[UserRecord]:
        _require_admin(actor)
        return await self._store.list_users()

    async def _named(self, name: str) -> UserRecord:
        user = await self._store.find_user_by_name(name)
        if user is None:  # only admins and the CLI get here, so naming it leaks nothing
            raise NotFound(f"no user named {one_line(name, 64)!r}")
        return user

    async def _keep_an_admin(self, leaving: UserRecord) -> None:
        admins = [u for u in await self._store.list_users() if u.role == "admin" and u.enabled]
        if all(u.id == leaving.id for u in admins):
            raise InvalidRequest("that is the last enabled admin; make another admin first")

    # -- API keys ------------------------------------------------------------------------

    async def create_key(
        self,
        actor: Principal | None,
        for_user_name: str,
        name: str,
        *,
        ip: str | None = None,
    ) -> tuple[str, ApiKeyRecord]:
        """The full key (show it once, never log it) and its record.

        A non-admin may only create keys for themself, so a key never carries more rights
        than its creator.
        """
        if (
            actor is not None
            and not actor.is_admin
            and name_key(for_user_name) != name_key(actor.name)
        ):
            raise PermissionDenied("you can only create keys for yourself")
        check_key_name(name)
        user = await self._named(for_user_name)
        if not user.enabled:
            raise InvalidRequest("that user is disabled")
        new = generate_key()
        record = await self._store.create_api_key(user.id, name, new.prefix, new.key_hash)
        detail = f"key_id={record.id} name={name}"
        await self._audit(_actor(actor), "key.created", user.name, ip, detail)
        return new.key, record

    async def revoke_key(
        self, actor: Principal | None, key_id: str, *, ip: str | None = None
    ) -> ApiKeyRecord:
        """Own keys, or anyone's for admins; someone else's key is NotFound, like none."""
        owner = actor.user_id if actor is not None and not actor.is_admin else None
        record = await self._store.revoke_api_key(key_id, user_id=owner)
        holder = await self._user_or_none(record.user_id)
        target = holder.name if holder is not None else record.user_id
        await self._audit(_actor(actor), "key.revoked", target, ip, f"key_id={record.id}")
        return record

    async def list_keys(
        self, actor: Principal | None, *, user_name: str | None = None
    ) -> list[ApiKeyRecord]:
        """Admins: everyone's or ``user_name``'s. Others: their own (``user_name`` ignored)."""
        if actor is not None and not actor.is_admin:
            return await self._store.list_api_keys(actor.user_id)
        if user_name is None:
            return await self._store.list_api_keys()
        return await self._store.list_api_keys((await self._named(user_name)).id)

    # -- audit ---------------------------------------------------------------------------

    async def audit_tail(self, actor: Principal | None, limit: int = 50) -> list[AuditRecord]:
        _require_admin(actor)
        return await self._store.tail_audit(max(0, min(limit, 1000)))

    async def _audit(
        self, actor: str, action: str, target: str, ip: str | None, detail: str = ""
    ) -> None:
        await self._auditor.record(actor, action, target, ip, detail)


def _strip_scheme(bearer: str) -> str:
    if len(bearer) > MAX_TOKEN_LENGTH + 16:
        raise _Refused("oversized credential")
    credential = bearer.strip()
    if credential[:7].lower() == "bearer ":
        credential = credential[7:].strip()
    return credential


def _require_admin(actor: Principal | None) -> None:
    if not _is_admin(actor):
        raise PermissionDenied(ADMIN_ONLY)
