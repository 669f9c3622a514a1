"""Writing the audit log from the auth layer: who did what to whom, from where.

:class:`Auditor` turns one event into an :class:`~habla.store.accounts.AuditEntry` with
the injected clock, squeezes every free-text field to one short printable line (so a
crafted user name cannot forge extra log lines), and samples the rows an anonymous caller
can cause at will ("request refused", throttled sign-ins) per address
(:class:`~habla.auth.throttle.RefusalSampler`) so junk cannot flood the table. Callers
pass names, ids and reasons only: this module cannot tell a secret from prose, so it
must never be handed a password, key, hash or token.
"""

from __future__ import annotations

import re

from habla.auth.throttle import RefusalSampler
from habla.auth.tokens import Clock
from habla.store.accounts import AccountStore, AuditEntry

# Control characters, line/paragraph separators, and lone surrogates (not storable as UTF-8).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def one_line(text: str, limit: int = 200) -> str:
    """Control characters replaced by ``?``, cut to ``limit`` characters."""
    return _CONTROL.sub("?", text[: limit * 2])[:limit]


class Auditor:
    def __init__(self, store: AccountStore, clock: Clock, refusals: RefusalSampler) -> None:
        self._store = store
        self._clock = clock
        self._refusals = refusals

    async def record(
        self, actor: str, action: str, target: str, ip: str | None, detail: str = ""
    ) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=self._clock(),
                actor=one_line(actor, 80),
                action=action,
                target=one_line(target, 80),
                ip=None if ip is None else one_line(ip, 64),
                detail=one_line(detail),
            )
        )

    async def refused(self, reason: str, target: str, ip: str | None) -> None:
        """A refused request, unless this address has had its share this minute."""
        await self.sampled("anonymous", "request.refused", target, ip, reason)

    async def sampled(
        self,
        actor: str,
        action: str,
        target: str,
        ip: str | None,
        detail: str = "",
        *,
        per: str | None = None,
    ) -> None:
        """Like :meth:`record`, for events a caller can repeat at will: at most a share a
        minute per ``per`` (by default the address)."""
        if self._refusals.allow(per if per is not None else ip, self._clock()):
            await self.record(actor, action, target, ip, detail)
