"""The account storage protocol: users, API keys and the audit log, with their records.

:class:`AccountStore` is what :class:`habla.auth.service.AccountService` drives; the memory
store and the SQL store both implement it, and one contract suite
(``tests/test_accounts_store.py``) runs over every implementation.

The store keeps rows and their invariants: user names unique regardless of case,
``token_version`` bumped whenever a role, the enabled flag or a password changes (that is
what invalidates issued JWTs), a key revoked only by its owner when an owner is given, and
an append-only audit log. It does not decide who may do what, hash or check secrets,
validate name shapes or password strength: :mod:`habla.auth` does. API keys reach it only
as a sha256 hex digest and a short visible prefix, passwords only as argon2 hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from habla.core.errors import InvalidRequest
from habla.core.identity import ROLES, Role


@dataclass(frozen=True, slots=True)
class UserLimits:
    """Per-user overrides of the server-wide limits; ``None`` means "use the default"."""

    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None

    def __post_init__(self) -> None:
        for field in ("requests_per_minute", "tokens_per_day", "tokens_per_month"):
            value = getattr(self, field)
            # bool is an int; a NaN or a float would slip past ``>=`` checks later on.
            if value is not None and (type(value) is not int or value < 1):
                raise InvalidRequest(f"{field} must be a whole number of at least 1", param=field)


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    name: str
    role: Role
    enabled: bool
    password_hash: str | None
    token_version: int
    created_at: datetime
    limits: UserLimits = UserLimits()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    user_id: str
    name: str
    prefix: str  # the short visible part of the key, for lists; never enough to use it
    key_hash: str  # sha256 hex of the whole key
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row to append. ``detail`` is short prose; never a secret."""

    at: datetime
    actor: str  # a user name, or "cli" / "anonymous" / "config"
    action: str  # e.g. "signin.ok", "key.revoked", "request.refused"
    target: str = ""
    ip: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An audit row as stored: the entry plus its sequence number."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    ip: str | None
    detail: str


def name_key(name: str) -> str:
    """The form a user name is unique in: ``Alice`` and ``alice`` are one account."""
    return name.casefold()


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise InvalidRequest(f"unknown role {role!r}: use one of {', '.join(ROLES)}", param="role")


class AccountStore(Protocol):
    # -- users ---------------------------------------------------------------------------

    async def create_user(
        self, name: str, role: Role, password_hash: str | None = None
    ) -> UserRecord:
        """Enabled, ``token_version`` 0. Raises Conflict when the name (any case) is taken."""
        ...

    async def get_user(self, user_id: str) -> UserRecord:
        """Raises NotFound."""
        ...

    async def find_user_by_name(self, name: str) -> UserRecord | None:
        """Case-insensitive."""
        ...

    async def list_users(self) -> list[UserRecord]:
        """Oldest first."""
        ...

    async def count_users(self) -> int: ...

    async def update_user(
        self,
        user_id: str,
        *,
        role: Role | None = None,
        enabled: bool | None = None,
        password_hash: str | None = None,
        limits: UserLimits | None = None,
    ) -> UserRecord:
        """Changes what is given (``limits`` replaces all three overrides).

        Bumps ``token_version`` by one when the role or the enabled flag actually changes or
        a password hash is given. Raises NotFound.
        """
        ...

    # -- API keys ------------------------------------------------------------------------

    async def create_api_key(
        self, user_id: str, name: str, prefix: str, key_hash: str
    ) -> ApiKeyRecord:
        """Raises NotFound for an unknown user, Conflict for a hash already stored."""
        ...

    async def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """Revoked keys are found too (check :attr:`ApiKeyRecord.revoked`)."""
        ...

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyRecord]:
        """All keys, or one user's; oldest first; revoked ones included."""
        ...

    async def revoke_api_key(self, key_id: str, *, user_id: str | None = None) -> ApiKeyRecord:
        """Marks the key revoked (a second revoke keeps the first time).

        With ``user_id``, a key of anyone else is reported exactly like a missing one
        (NotFound).
        """
        ...

    async def touch_api_key(self, key_id: str, *, at: datetime | None = None) -> None:
        """Records a use (``last_used_at``); an unknown id is ignored."""
        ...

    # -- audit (append-only: there is deliberately no update or delete) -------------------

    async def append_audit(self, entry: AuditEntry) -> None: ...

    async def tail_audit(self, limit: int = 50) -> list[AuditRecord]:
        """The newest ``limit`` rows, oldest of them first (newest last)."""
        ...
