"""Optional LDAP group check for internal deployments: "is this person in that group?".

:class:`GroupDirectory` is the small protocol the Telegram access check asks;
:class:`LdapGroupDirectory` answers it with ``ldap3`` (imported lazily: it is part of the
``telegram`` extra), and :class:`CachedDirectory` keeps each answer for a while so a
chatty user does not cost one LDAP round trip per message. An LDAP server that cannot be
reached raises :class:`~habla.core.errors.BackendUnavailable`; the caller decides what
that means (the Telegram bot refuses: an unanswerable check never lets anyone in).

This module does not search for users, map Telegram names to directory entries, or
authenticate anyone by password.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from habla.core.errors import BackendUnavailable, ConfigError


class GroupDirectory(Protocol):
    async def is_member(self, name: str) -> bool: ...


MonotonicClock = Callable[[], float]


class CachedDirectory:
    """Remembers each answer for ``ttl_seconds`` (failures are not remembered)."""

    def __init__(
        self,
        inner: GroupDirectory,
        *,
        ttl_seconds: float,
        clock: MonotonicClock = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._inner = inner
        self._ttl = ttl_seconds
        self._clock = clock
        self._max = max_entries
        self._answers: dict[str, tuple[float, bool]] = {}

    async def is_member(self, name: str) -> bool:
        now = self._clock()
        cached = self._answers.get(name)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        answer = await self._inner.is_member(name)
        if len(self._answers) >= self._max:  # bounded: drop the oldest answer
            self._answers.pop(next(iter(self._answers)))
        self._answers.pop(name, None)
        self._answers[name] = (now, answer)
        return answer


ConnectionFactory = Callable[[], Any]  # returns a bound ldap3.Connection


class LdapGroupDirectory:
    """Membership by looking for the person's DN among the group's ``member_attribute``.

    ``user_dn_template`` has one ``{name}`` placeholder, e.g.
    ``uid={name},ou=people,dc=example,dc=com``; the name is escaped for DNs. ldap3 is
    blocking, so every query runs in a worker thread.
    """

    def __init__(
        self,
        connect: ConnectionFactory,
        *,
        group_dn: str,
        user_dn_template: str,
        member_attribute: str = "member",
    ) -> None:
        if "{name}" not in user_dn_template:
            raise ConfigError("the LDAP user DN template needs a {name} placeholder")
        self._connect = connect
        self._group_dn = group_dn
        self._template = user_dn_template
        self._attribute = member_attribute

    async def is_member(self, name: str) -> bool:
        return await asyncio.to_thread(self._is_member, name)

    def _is_member(self, name: str) -> bool:
        from ldap3.core.exceptions import LDAPException
        from ldap3.utils.conv import escape_filter_chars
        from ldap3.utils.dn import escape_rdn

        user_dn = self._template.format(name=escape_rdn(name))
        query = f"({self._attribute}={escape_filter_chars(user_dn)})"
        try:
            conn = self._connect()
            try:
                conn.search(self._group_dn, query, search_scope="BASE", attributes=[])
                return bool(conn.entries)
            finally:
                conn.unbind()
        except LDAPException as exc:
            raise BackendUnavailable(
                f"the LDAP directory did not answer: {type(exc).__name__}"
            ) from exc


def ldap3_connection_factory(
    url: str, bind_dn: str | None, password: str | None
) -> ConnectionFactory:
    """Connections to a real server; raises ConfigError when ldap3 is not installed."""
    try:
        import ldap3
    except ImportError as exc:
        raise ConfigError('the LDAP check needs ldap3: pip install "habla[telegram]"') from exc

    def connect() -> Any:
        server = ldap3.Server(url, connect_timeout=5)
        return ldap3.Connection(
            server, user=bind_dn, password=password, auto_bind=True, receive_timeout=10
        )

    return connect
