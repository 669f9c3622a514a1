"""The guard protocol: ``check(text, ctx) -> Verdict``.

A guard looks at text and allows it, rewrites it, or blocks it, with a reason a person
can read. Guards never raise for a policy decision; the pipeline turns a block into
:class:`~habla.core.errors.GuardBlocked`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Action = Literal["allow", "rewrite", "block"]


@dataclass(frozen=True, slots=True)
class GuardContext:
    user_id: str
    persona: str
    model: str


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""
    text: str | None = None  # the replacement, for "rewrite"

    @classmethod
    def allow(cls) -> Verdict:
        return cls("allow")


class Guard(Protocol):
    @property
    def name(self) -> str: ...

    async def check(self, text: str, ctx: GuardContext) -> Verdict: ...
