"""The SQL half of :class:`~habla.store.accounts.AccountStore`, mixed into ``SqlStore``.

:class:`SqlAccounts` needs only the async engine in ``self._engine``; ``SqlStore`` owns
the engine, the URL handling and the migrations. Every statement is built with SQLAlchemy
Core, so every value is a bound parameter. Uniqueness (names regardless of case, key
hashes) is enforced by unique constraints and reported as
:class:`~habla.core.errors.Conflict`; ``token_version`` is bumped inside the same UPDATE
that changes the role, the enabled flag or the password, so concurrent changes cannot
lose a bump. This module does no authorisation and never sees a key or a password.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from habla.core.errors import Conflict, NotFound
from habla.core.identity import Role
from habla.store.accounts import (
    ApiKeyRecord,
    AuditEntry,
    AuditRecord,
    UserLimits,
    UserRecord,
    check_role,
    name_key,
)
from habla.store.schema import UtcDateTime, api_keys, audit_log, users

_NO_USER = "no such user"
_NO_KEY = "no such API key"
_NAME_TAKEN = "that user name is taken"


def _now() -> datetime:
    return datetime.now(UTC)


class SqlAccounts:
    """Users, API keys and audit rows over ``self._engine`` (set by the class using this)."""

    _engine: AsyncEngine

    # -- users ---------------------------------------------------------------------------

    async def create_user(
        self, name: str, role: Role, password_hash: str | None = None
    ) -> UserRecord:
        record = UserRecord(
            id=uuid.uuid4().hex,
            name=name,
            role=check_role(role),
            enabled=True,
            password_hash=password_hash,
            token_version=0,
            created_at=_now(),
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(users).values(
                        id=record.id,
                        name=name,
                        name_key=name_key(name),
                        role=record.role,
                        enabled=True,
                        password_hash=password_hash,
                        token_version=0,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError as exc:  # the id is random: it is the name
            raise Conflict(_NAME_TAKEN, param="name") from exc
        return record

    async def get_user(self, user_id: str) -> UserRecord:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).one_or_none()
        if row is None:
            raise NotFound(_NO_USER)
        return _user(row)

    async def find_user_by_name(self, name: str) -> UserRecord | None:
        query = select(users).where(users.c.name_key == name_key(name))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _user(row)

    async def list_users(self) -> list[UserRecord]:
        query = select(users).order_by(users.c.created_at, users.c.id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_user(row) for row in rows]

    async def count_users(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def update_user(
        self,
        user_id: str,
        *,
        role: Role | None = None,
        enabled: bool | None = None,
        password_hash: str | None = None,
        limits: UserLimits | None = None,
    ) -> UserRecord:
        values: dict[str, Any] = {}
        changes: list[ColumnElement[bool]] = []
        if role is not None:
            values["role"] = check_role(role)
            changes.append(users.c.role != values["role"])
        if enabled is not None:
            values["enabled"] = enabled
            changes.append(users.c.enabled != enabled)
        if password_hash is not None:
            values["password_hash"] = password_hash
            changes.append(true())
        if limits is not None:
            values["requests_per_minute"] = limits.requests_per_minute
            values["tokens_per_day"] = limits.tokens_per_day
            values["tokens_per_month"] = limits.tokens_per_month
        if changes:
            # Compared with the row's old values inside the UPDATE itself: atomic.
            bump = case((or_(*changes), 1), else_=0)
            values["token_version"] = users.c.token_version + bump
        if not values:
            return await self.get_user(user_id)
        query = update(users).where(users.c.id == user_id).values(**values).returning(*users.c)
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise NotFound(_NO_USER)
        return _user(row)

    # -- API keys ------------------------------------------------------------------------

    async def create_api_key(
        self, user_id: str, name: str, prefix: str, key_hash: str
    ) -> ApiKeyRecord:
        record = ApiKeyRecord(
            id=uuid.uuid4().hex,
            user_id=user_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            created_at=_now(),
        )
        try:
            async with self._engine.begin() as conn:
                owner = await conn.execute(select(users.c.id).where(users.c.id == user_id))
                if owner.one_or_none() is None:
                    raise NotFound(_NO_USER)
                await conn.execute(
                    insert(api_keys).values(
                        id=record.id,
                        user_id=user_id,
                        name=name,
                        prefix=prefix,
                        key_hash=key_hash,
                        created_at=record.created_at,
                    )
                )
        except IntegrityError as exc:
            raise Conflict("that API key is already stored") from exc
        return record

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        query = select(api_keys).where(api_keys.c.key_hash == key_hash)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _api_key(row)

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyRecord]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if user_id is not None:
            query = query.where(api_keys.c.user_id == user_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_api_key(row) for row in rows]

    async def revoke_api_key(self, key_id: str, *, user_id: str | None = None) -> ApiKeyRecord:
        conditions = [api_keys.c.id == key_id]
        if user_id is not None:
            conditions.append(api_keys.c.user_id == user_id)
        query = (
            update(api_keys)
            .where(*conditions)
            # A second revoke keeps the first time.
            .values(revoked_at=func.coalesce(api_keys.c.revoked_at, literal(_now(), UtcDateTime())))
            .returning(*api_keys.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise NotFound(_NO_KEY)
        return _api_key(row)

    async def touch_api_key(self, key_id: str, *, at: datetime | None = None) -> None:
        query = update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at or _now())
        async with self._engine.begin() as conn:
            await conn.execute(query)

    # -- audit -----------------------------------------------------------------------------

    async def append_audit(self, entry: AuditEntry) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(audit_log).values(
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    ip=entry.ip,
                    detail=entry.detail,
                )
            )

    async def tail_audit(self, limit: int = 50) -> list[AuditRecord]:
        if limit <= 0:
            return []
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_audit(row) for row in reversed(rows)]


def _user(row: Row[Any]) -> UserRecord:
    return UserRecord(
        id=row.id,
        name=row.name,
        role=check_role(row.role),
        enabled=bool(row.enabled),
        password_hash=row.password_hash,
        token_version=row.token_version,
        created_at=row.created_at,
        limits=UserLimits(
            requests_per_minute=row.requests_per_minute,
            tokens_per_day=row.tokens_per_day,
            tokens_per_month=row.tokens_per_month,
        ),
    )


def _api_key(row: Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        key_hash=row.key_hash,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _audit(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        ip=row.ip,
        detail=row.detail,
    )
