"""Checking a name and password: the one place sign-in work and throttling happen.

:class:`PasswordCheck` answers "is this the password of this account?" for
:meth:`~habla.auth.service.AccountService.sign_in` and for changing one's own password. It
refuses throttled accounts and addresses with :class:`~habla.core.errors.RateLimited`,
does the same argon2 work for unknown users and users without a password (a dummy hash)
so timing does not reveal which names exist, gives every failure the same message, and
audits the outcome. A name that does not exist is audited as ``(unknown user)``, never as
typed: people type passwords into name fields.

User- and key-name rules live here too. This module does not issue tokens.
"""

from __future__ import annotations

import asyncio
import re
import secrets

from habla.auth.audit import Auditor, has_control_characters
from habla.auth.passwords import Passwords
from habla.auth.throttle import SignInThrottle
from habla.auth.tokens import Clock
from habla.core.errors import AuthError, InvalidRequest, RateLimited
from habla.store.accounts import AccountStore, UserRecord, name_key

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}", re.ASCII)
MAX_KEY_NAME = 64
BAD_SIGN_IN = "wrong name or password"


def check_user_name(name: str) -> str:
    if USER_NAME.fullmatch(name) is None:
        raise InvalidRequest(
            "a user name is 1-64 letters, digits or . _ @ : - and starts with a letter or digit",
            param="name",
        )
    return name


def check_key_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_KEY_NAME or has_control_characters(name):
        raise InvalidRequest(f"a key name is 1-{MAX_KEY_NAME} printable characters", param="name")
    return name


class PasswordCheck:
    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        throttle: SignInThrottle,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._throttle = throttle
        self._auditor = auditor
        self._clock = clock
        self._dummy_hash: str | None = None

    async def verified(self, name: str, password: str, ip: str | None) -> UserRecord:
        """The enabled user whose password this is; else AuthError (or RateLimited)."""
        now = self._clock()
        account = name_key(name[:80])
        user = await self._store.find_user_by_name(name) if USER_NAME.fullmatch(name) else None
        target = user.name if user is not None else "(unknown user)"
        wait = await self._throttle.retry_after(account, ip, now)
        if wait is not None:
            await self._auditor.sampled("anonymous", "signin.failed", target, ip, "throttled")
            raise RateLimited("too many failed sign-ins; try again later", retry_after=wait)
        stored = user.password_hash if user is not None else None
        matches = await asyncio.to_thread(
            self._passwords.verify, stored or await self._dummy(), password
        )
        reason = _failure(user, matches and stored is not None)
        if user is None or reason is not None:
            await self._throttle.failed(account, ip, now)
            await self._auditor.record("anonymous", "signin.failed", target, ip, reason or "")
            raise AuthError(BAD_SIGN_IN)
        await self._throttle.succeeded(account, ip, now)
        return user

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            never = secrets.token_urlsafe(24)  # forgotten at once: nothing can match it
            self._dummy_hash = await asyncio.to_thread(self._passwords.hash, never)
        return self._dummy_hash


def _failure(user: UserRecord | None, matches: bool) -> str | None:
    if user is None:
        return "unknown user"
    if user.password_hash is None:
        return "no password set"
    if not matches:
        return "wrong password"
    if not user.enabled:
        return "disabled user"
    return None
