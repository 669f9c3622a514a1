"""Who may talk to the Telegram bot, and as which habla principal.

:class:`TelegramAccess` answers :meth:`~TelegramAccess.principal_for` for a Telegram user:

1. a Telegram account **linked** to an enabled habla user acts as that user (same
   limits, quotas, history ownership and audit name as on the web). With an LDAP
   :class:`~habla.auth.ldap.GroupDirectory` configured, that user must also be in the
   group — so someone who left the company loses the bot with their directory entry;
2. an account on the **allowlist** (numeric id or ``@username``) acts as its own
   principal ``tg:<id>`` with the ``user`` role and the server-wide user limits;
3. anyone else is a stranger: ``None``. :meth:`refused` audits that (sampled per Telegram
   id) and says whether this was the first refusal, so the bot answers strangers once.

Link codes (:meth:`create_link_code`, printed by ``habla users link-telegram NAME``) are
random, single use, expire after ``code_ttl_seconds`` and are stored only as sha256.
Wrong codes are throttled per Telegram account. Every link, unlink and refusal is audited;
no code ever reaches the audit log. This module knows nothing about the Telegram API.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from habla.auth.audit import Auditor, one_line
from habla.auth.ldap import GroupDirectory
from habla.auth.throttle import RefusalSampler
from habla.auth.tokens import Clock, utc_now
from habla.core.errors import ConfigError, NotFound, RateLimited
from habla.core.identity import Principal
from habla.store.accounts import AccountStore, UserRecord
from habla.store.telegram import TelegramStore

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a terminal
CODE_LENGTH = 12  # 60 bits
_USERNAME = re.compile(r"^@?([A-Za-z0-9_]{3,32})$")
_NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_FAILED_LINKS = 5  # wrong codes per Telegram account per window
FAILED_LINK_WINDOW = timedelta(minutes=15)
MAX_TRACKED_FAILURES = 10_000


class TelegramAccountStore(AccountStore, TelegramStore, Protocol):
    """The store the access check needs: accounts and Telegram rows together."""


@dataclass(frozen=True, slots=True)
class TelegramUser:
    """A Telegram account as the bot sees it on an update."""

    telegram_id: int
    username: str | None = None

    @property
    def label(self) -> str:
        """For audit rows and principal names: never a secret, always one line."""
        return one_line(
            f"tg:{self.telegram_id}" + (f"/@{self.username}" if self.username else ""), 80
        )


@dataclass(frozen=True, slots=True)
class Allowlist:
    ids: frozenset[int]
    usernames: frozenset[str]  # casefolded, without "@"

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        ids: set[int] = set()
        names: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if _NUMERIC_ID.match(entry):
                ids.add(int(entry))
            elif match := _USERNAME.match(entry):
                names.add(match.group(1).casefold())
            else:
                raise ConfigError(
                    f"telegram allowlist entry {one_line(entry, 40)!r} is neither a numeric "
                    "user id nor a @username (5-32 letters, digits or _)"
                )
        return cls(frozenset(ids), frozenset(names))

    def allows(self, who: TelegramUser) -> bool:
        if who.telegram_id in self.ids:
            return True
        return who.username is not None and who.username.casefold() in self.usernames


def hash_code(code: str) -> str:
    normalised = code.strip().upper().replace("-", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


class TelegramAccess:
    def __init__(
        self,
        store: TelegramAccountStore,
        *,
        allowlist: Allowlist,
        directory: GroupDirectory | None = None,
        clock: Clock = utc_now,
        code_ttl_seconds: int = 600,
        refusals: RefusalSampler | None = None,
    ) -> None:
        self._store = store
        self._allowlist = allowlist
        self._directory = directory
        self._clock = clock
        self._code_ttl = timedelta(seconds=code_ttl_seconds)
        self._auditor = Auditor(store, clock, refusals or RefusalSampler(per_minute=2))
        self._failed: dict[int, list[float]] = {}

    async def principal_for(self, who: TelegramUser) -> Principal | None:
        link = await self._store.get_link(who.telegram_id)
        if link is not None:
            user = await self._user(link.user_id)
            if user is not None and user.enabled and await self._in_directory(user):
                return Principal(user.id, user.name, user.role, via="telegram")
            return None
        if self._allowlist.allows(who):
            return Principal(f"tg:{who.telegram_id}", who.label, "user", via="telegram")
        return None

    async def _user(self, user_id: str) -> UserRecord | None:
        try:
            return await self._store.get_user(user_id)
        except NotFound:
            return None

    async def _in_directory(self, user: UserRecord) -> bool:
        # An unreachable directory raises BackendUnavailable: the bot says "busy", and
        # nobody gets in on a check that could not be made.
        return self._directory is None or await self._directory.is_member(user.name)

    async def refused(self, who: TelegramUser, reason: str) -> bool:
        """Audits a refused Telegram user; True the first time (answer them once)."""
        await self._auditor.sampled(
            who.label, "telegram.refused", who.label, "telegram", reason, per=who.label
        )
        return await self._store.mark_refused(who.telegram_id, at=self._clock())

    # -- linking -------------------------------------------------------------------------

    async def create_link_code(self, actor: Principal | None, user_name: str) -> str:
        """A one-time code for ``user_name`` (``actor`` None: the CLI). Shown once."""
        if actor is not None and not actor.is_admin and actor.name != user_name:
            raise NotFound(f"no user named {one_line(user_name, 64)!r}")
        user = await self._store.find_user_by_name(user_name)
        if user is None:
            raise NotFound(f"no user named {one_line(user_name, 64)!r}")
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = self._clock() + self._code_ttl
        await self._store.add_link_code(hash_code(code), user.id, expires_at=expires)
        actor_name = "cli" if actor is None else actor.name
        await self._auditor.record(actor_name, "telegram.link_code", user.name, None)
        return f"{code[:4]}-{code[4:8]}-{code[8:]}"

    async def redeem(self, who: TelegramUser, code: str) -> UserRecord | None:
        """Links ``who`` to the code's user; None for a wrong, used or expired code.

        Raises :class:`RateLimited` after too many wrong codes from one account.
        """
        now = self._clock()
        recent = [
            t
            for t in self._failed.get(who.telegram_id, [])
            if t > now.timestamp() - FAILED_LINK_WINDOW.total_seconds()
        ]
        if len(recent) >= MAX_FAILED_LINKS:
            retry = recent[0] + FAILED_LINK_WINDOW.total_seconds() - now.timestamp()
            raise RateLimited("too many wrong link codes", retry_after=max(1.0, retry))
        user_id = None
        if _CODE_SHAPE.match(code.strip()):
            user_id = await self._store.redeem_link_code(hash_code(code), who.telegram_id, at=now)
        user = None if user_id is None else await self._user(user_id)
        if user is None:
            self._remember_failure(who.telegram_id, [*recent, now.timestamp()])
            await self._auditor.sampled(
                who.label, "telegram.link_failed", who.label, "telegram", per=who.label
            )
            return None
        self._failed.pop(who.telegram_id, None)
        await self._auditor.record(user.name, "telegram.linked", who.label, "telegram")
        return user

    def _remember_failure(self, telegram_id: int, times: list[float]) -> None:
        if len(self._failed) >= MAX_TRACKED_FAILURES:  # bounded: forget the oldest account
            self._failed.pop(next(iter(self._failed)))
        self._failed.pop(telegram_id, None)
        self._failed[telegram_id] = times

    async def unlink(self, who: TelegramUser) -> bool:
        link = await self._store.get_link(who.telegram_id)
        if link is None or not await self._store.remove_link(who.telegram_id):
            return False
        user = await self._user(link.user_id)
        actor = user.name if user is not None else who.label
        await self._auditor.record(actor, "telegram.unlinked", who.label, "telegram")
        return True
