"""The guard protocol: ``check(text, ctx) -> Verdict``.

A guard looks at text and allows it, rewrites it, flags it, or blocks it, with a reason a
person can read. Guards never raise for a policy decision; the pipeline turns a block into
:class:`~habla.core.errors.GuardBlocked` and lets a flagged turn proceed, noting the flag
on the context so the channel can tell the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Action = Literal["allow", "rewrite", "block", "flag"]


@dataclass(frozen=True, slots=True)
class GuardContext:
    user_id: str
    persona: str
    model: str
    # Rule ids that flagged this turn, for the channel to report. Mutable on
    # purpose: the context lives for one turn and is how a flag travels to the response.
    flags: list[str] = field(default_factory=list, compare=False)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""
    text: str | None = None  # the replacement, for "rewrite"
    rules: tuple[str, ...] = ()  # ids of the rules that matched, for logs (never the text)
    score: float = 0.0

    @classmethod
    def allow(cls) -> Verdict:
        return cls("allow")


class Guard(Protocol):
    @property
    def name(self) -> str: ...

    async def check(self, text: str, ctx: GuardContext) -> Verdict: ...
