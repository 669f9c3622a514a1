"""The guard pipeline: input limits, then input guards before the model; output guards
over the stream after it.

Input guards see the newest user message (the one the caller just wrote). Output guards
see a sliding window of the reply as it streams, so a violation that spans two deltas is
still caught; a block ends the stream with ``finish_reason="content_filter"``. The last
``output_hold_chars`` characters are held back until the next delta (or the end) has been
checked, so text that trips a guard never reaches the client, even in part.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from habla.core.errors import GuardBlocked
from habla.core.events import Finished, StreamEvent, Usage
from habla.core.messages import Message, Text
from habla.guards.base import Guard, GuardContext, Verdict
from habla.guards.limits import InputLimits
from habla.guards.output_stream import GuardedStream

log = logging.getLogger(__name__)

OUTPUT_WINDOW_CHARS = 512


@dataclass
class GuardPipeline:
    limits: InputLimits
    input_guards: Sequence[Guard] = field(default_factory=tuple)
    output_guards: Sequence[Guard] = field(default_factory=tuple)
    # Guards for text that is data, not the user's words: retrieved documents, forwarded
    # messages (see scan_untrusted).
    untrusted_guards: Sequence[Guard] = field(default_factory=tuple)
    # Output guards: characters kept back so a match is found before any of it is sent.
    output_hold_chars: int = 0

    async def check_input(
        self, messages: Sequence[Message], max_tokens: int | None, ctx: GuardContext
    ) -> tuple[Message, ...]:
        """Returns the messages, rewritten where a guard asked; raises on a block."""
        self.limits.check(messages, max_tokens)
        checked = list(messages)
        for index in _newest_user_turn(checked):
            checked[index] = await self._check_message(checked[index], ctx)
        return tuple(checked)

    async def _check_message(self, message: Message, ctx: GuardContext) -> Message:
        text = message.text
        for guard in self.input_guards:
            verdict = await guard.check(text, ctx)
            _log_verdict("input", guard.name, verdict, ctx)
            if verdict.action == "block":
                raise GuardBlocked(verdict.reason or "this message is not allowed here")
            if verdict.action == "flag":
                ctx.flags.extend(verdict.rules or (guard.name,))
            if verdict.action == "rewrite" and verdict.text is not None:
                text = verdict.text
        if text == message.text:
            return message
        others = tuple(p for p in message.parts if not isinstance(p, Text))
        return Message(message.role, (Text(text), *others))

    async def scan_untrusted(
        self, text: str, ctx: GuardContext | None = None, *, source: str = "untrusted"
    ) -> Verdict:
        """Check text that is data rather than the user's own words (a retrieved document,
        a forwarded message). Never raises for a policy decision: the caller decides what a
        ``block`` or ``flag`` means for it (drop the document, label it, refuse). Without a
        ``ctx`` (no user or persona at hand) the global actions apply."""
        ctx = ctx or GuardContext(user_id="-", persona="", model="-")
        worst = Verdict.allow()
        for guard in self.untrusted_guards:
            verdict = await guard.check(text, ctx)
            _log_verdict(f"untrusted {source}", guard.name, verdict, ctx)
            if _SEVERITY[verdict.action] > _SEVERITY[worst.action]:
                worst = verdict
        return worst

    def guard_output(
        self, events: AsyncIterator[StreamEvent], ctx: GuardContext
    ) -> AsyncIterator[StreamEvent]:
        """The reply through the output guards; see :mod:`habla.guards.output_stream`."""
        if not self.output_guards:
            return events

        async def check(window: str) -> Finished | None:
            return await self._blocks_output(window, ctx)

        hold = self.output_hold_chars
        return GuardedStream(events, check, hold=hold, window=max(OUTPUT_WINDOW_CHARS, 4 * hold))

    async def _blocks_output(self, window: str, ctx: GuardContext) -> Finished | None:
        for guard in self.output_guards:
            verdict = await guard.check(window, ctx)
            if verdict.action == "block":
                log.info("output guard %s blocked: %s", guard.name, verdict.reason)
                return Finished("content_filter", Usage())
        return None


_SEVERITY = {"allow": 0, "rewrite": 1, "flag": 2, "block": 3}


def _log_verdict(where: str, guard: str, verdict: Verdict, ctx: GuardContext) -> None:
    """Every decision, with its rules and score — never the text it was about."""
    log.info(
        "%s guard %s: %s score=%.2f rules=%s user=%s persona=%s model=%s%s",
        where,
        guard,
        verdict.action,
        verdict.score,
        ",".join(verdict.rules) or "-",
        ctx.user_id,
        ctx.persona,
        ctx.model,
        f" ({verdict.reason})" if verdict.reason and verdict.action == "allow" else "",
    )


def _newest_user_turn(messages: Sequence[Message]) -> list[int]:
    """Indexes of the trailing run of user messages (what the caller just said)."""
    indexes: list[int] = []
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role != "user":
            break
        indexes.append(index)
    return indexes
