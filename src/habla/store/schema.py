"""The SQL schema of the conversation store, as SQLAlchemy Core tables.

This module describes what the database looks like; it does not create anything. The
Alembic migrations in ``habla/store/migrations`` are the source of truth for the live
schema, and a test checks that migrating to head yields exactly these tables. Change both
together: write a new migration, then update the tables here.

Accounts (users, API keys, the audit log) are on the same :data:`metadata`; they came in
revision 0002. The ``key_id`` columns (revision 0004) name the data key that encrypted a
row's content (see :mod:`habla.store.crypto`); NULL means the row is plaintext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Kept out of ``alembic_version`` so that other migration trees (e.g. a retrieval index
# with its own revisions) can live in the same database without clobbering ours.
VERSION_TABLE = "habla_alembic_version"

# Predictable constraint names, so later migrations can refer to (and drop) them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 36  # room for a dashed UUID; habla itself writes 32-character hex ids
KEY_ID_LENGTH = 16  # hex digits of sha256(data key), see habla.store.crypto


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always reads back as UTC.

    PostgreSQL keeps the offset (``timestamptz``); SQLite keeps a naive string. Binding
    converts to UTC so both store the same wall time and compare correctly, and reading
    attaches UTC so callers never see a naive datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value)!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("user_id", Text(), nullable=False),
    Column("title", Text(), nullable=False),  # sealed when key_id is set
    Column("persona", Text(), nullable=False),
    Column("model", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    # Serves "this user's conversations, newest first" straight from the index.
    Index("ix_conversations_user_id_updated_at", "user_id", "updated_at"),
    # The start-up key check (distinct key ids) and rotation (rows not under the current
    # key) read this index instead of the table.
    Index("ix_conversations_key_id", "key_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column(
        "conversation_id",
        String(ID_LENGTH),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer(), nullable=False),
    Column("role", String(16), nullable=False),
    Column("parts", Text(), nullable=False),  # JSON (habla.store.codec), sealed with key_id
    Column("status", String(16), nullable=False),
    Column("model", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    Index("ix_messages_key_id", "key_id"),
    # Retention sweeps delete by age across all conversations.
    Index("ix_messages_created_at", "created_at"),
    # Also the index behind the foreign key and "messages of a conversation in order".
    UniqueConstraint("conversation_id", "seq"),
    CheckConstraint("status IN ('complete', 'incomplete')", name="status"),
)

usage = Table(
    "usage",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("user_id", Text(), nullable=False),
    # No foreign key: usage outlives the conversation it was spent in (accounting).
    Column("conversation_id", String(ID_LENGTH), nullable=True),
    Column("model", Text(), nullable=False),
    Column("prompt_tokens", Integer(), nullable=False),
    Column("completion_tokens", Integer(), nullable=False),
    Column("latency_ms", Integer(), nullable=False),
    Column("finish_reason", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # (user_id, created_at) answers "this user's usage since T"; created_at alone serves
    # retention sweeps over everyone.
    Index("ix_usage_user_id_created_at", "user_id", "created_at"),
    Index("ix_usage_created_at", "created_at"),
)


users = Table(
    "users",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("name", Text(), nullable=False),  # as typed at creation
    # casefold(name): uniqueness and look-ups ignore case. A column, not an index on an
    # expression, so both databases (and Alembic's comparison) treat it the same.
    Column("name_key", Text(), nullable=False),
    Column("role", String(16), nullable=False),
    Column("enabled", Boolean(), nullable=False),
    Column("password_hash", Text(), nullable=True),  # argon2id; NULL: no password sign-in
    Column("token_version", Integer(), nullable=False),  # bumped to invalidate JWTs
    Column("created_at", UtcDateTime(), nullable=False),
    # Per-user overrides of the server-wide limits; NULL means the default applies.
    Column("requests_per_minute", Integer(), nullable=True),
    Column("tokens_per_day", BigInteger(), nullable=True),
    Column("tokens_per_month", BigInteger(), nullable=True),
    UniqueConstraint("name_key"),
    CheckConstraint("role IN ('admin', 'user')", name="role"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column(
        "user_id",
        String(ID_LENGTH),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text(), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),  # sha256 hex of the whole key
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    # The unique index on key_hash is the look-up on every authenticated request.
    UniqueConstraint("key_hash"),
    Index("ix_api_keys_user_id", "user_id"),
    Index("ix_api_keys_prefix", "prefix"),
)

# Append-only: the store has no update or delete for it.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", Text(), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text(), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("detail", Text(), nullable=False),
    Index("ix_audit_log_at", "at"),
)


# -- Telegram (revision 0003) ---------------------------------------------------------------
# Telegram ids are 64-bit integers; chat ids of groups are negative.

# A habla account linked to a Telegram account by a one-time code.
telegram_links = Table(
    "telegram_links",
    metadata,
    Column("telegram_id", BigInteger(), primary_key=True, autoincrement=False),
    Column(
        "user_id",
        String(ID_LENGTH),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("linked_at", UtcDateTime(), nullable=False),
    Index("ix_telegram_links_user_id", "user_id"),
)

# One-time link codes, stored as sha256 hex; used_at set once when redeemed.
telegram_link_codes = Table(
    "telegram_link_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column(
        "user_id",
        String(ID_LENGTH),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
)

# Per (chat, Telegram user): the current conversation and the choices made with commands.
telegram_chats = Table(
    "telegram_chats",
    metadata,
    Column("chat_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("telegram_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("conversation_id", String(ID_LENGTH), nullable=True),
    Column("persona", Text(), nullable=True),
    Column("model", Text(), nullable=True),
    Column("last_active_at", UtcDateTime(), nullable=False),
)

# Telegram users the bot has marks for: blocked the bot (403), or refused as a stranger.
telegram_users = Table(
    "telegram_users",
    metadata,
    Column("telegram_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("blocked_at", UtcDateTime(), nullable=True),
    Column("refused_at", UtcDateTime(), nullable=True),
)

# Update ids already handled (Telegram redelivers); pruned by age.
telegram_updates = Table(
    "telegram_updates",
    metadata,
    Column("update_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("seen_at", UtcDateTime(), nullable=False),
    Index("ix_telegram_updates_seen_at", "seen_at"),
)
