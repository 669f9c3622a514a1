"""The token-aware context window: which history fits in front of the next reply.

History is grouped into turns (a user message and what follows it) and dropped oldest
turn first until the prompt fits ``context_window - reply_budget``, counted with the
model's own tokenizer. The system prompt and the newest turn are always kept; when even
they do not fit, the caller gets :class:`~habla.core.errors.ContextLengthExceeded`. The
number of turns left out is returned so that the reply can say so — never silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from habla.backends.base import Backend
from habla.core.errors import ContextLengthExceeded
from habla.core.messages import Message


@dataclass(frozen=True, slots=True)
class Window:
    messages: tuple[Message, ...]
    omitted_turns: int
    prompt_tokens: int


def split_turns(history: Sequence[Message]) -> list[list[Message]]:
    """Group messages into turns; each user message starts a new turn."""
    turns: list[list[Message]] = []
    for message in history:
        if message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


async def fit_window(
    backend: Backend, system: Message | None, history: Sequence[Message], reply_budget: int
) -> Window:
    window = backend.capabilities.context_window
    budget = window - reply_budget
    head = [system] if system is not None else []
    turns = split_turns(history)
    if not turns:
        raise ContextLengthExceeded("there is no message to answer", param="messages")

    base = await backend.count_tokens(head)
    # Marginal cost of each turn after the head: template overhead is counted once.
    costs = [await backend.count_tokens([*head, *turn]) - base for turn in turns]
    keep = _newest_turns_within(costs, budget - base)
    while True:
        kept = [m for turn in turns[len(turns) - keep :] for m in turn] if keep else []
        messages = (*head, *kept)
        total = await backend.count_tokens(messages)
        if keep and total <= budget:
            return Window(messages, len(turns) - keep, total)
        if keep <= 1:
            raise ContextLengthExceeded(
                f"the message needs about {total} tokens, but the model's context window of "
                f"{window} tokens leaves room for {max(budget, 0)} after reserving "
                f"{reply_budget} for the reply; shorten it or lower max_tokens",
                param="messages",
            )
        keep -= 1  # per-turn counts were an estimate of the joined prompt; drop one more


def _newest_turns_within(costs: Sequence[int], budget: int) -> int:
    """How many turns, counted from the newest, fit in ``budget`` (at least one)."""
    used = 0
    count = 0
    for cost in reversed(costs):
        if count and used + cost > budget:
            break
        used += cost
        count += 1
    return count
