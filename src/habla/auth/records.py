"""The account record types, for channels: users, API keys, audit rows, limit overrides.

Interfaces may not import :mod:`habla.store` (an import-linter contract), yet they render
these records; this module re-exports them from :mod:`habla.store.accounts`, where they
are defined next to the protocol that returns them. It defines nothing of its own.
"""

from __future__ import annotations

from habla.store.accounts import ApiKeyRecord, AuditEntry, AuditRecord, UserLimits, UserRecord

__all__ = ["ApiKeyRecord", "AuditEntry", "AuditRecord", "UserLimits", "UserRecord"]
