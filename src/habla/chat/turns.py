"""What a channel hands the engine for one turn, and what it gets back before streaming."""

from __future__ import annotations

from dataclasses import dataclass

from habla.core.identity import Principal
from habla.core.messages import Message


@dataclass(frozen=True, slots=True)
class TurnInput:
    """One turn asked of the engine.

    ``messages`` are the caller's new messages. Continuing a stored conversation
    (``conversation_id``) they are appended to its history; without one they are the whole
    conversation (OpenAI style). A ``system`` message among them replaces the persona's
    prompt for this turn and is never stored.
    """

    principal: Principal
    messages: tuple[Message, ...]
    conversation_id: str | None = None
    persona: str | None = None
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    store: bool = True
    # Where the request came from, for the audit log: a client address, or a channel tag
    # such as "terminal". Never used to decide anything.
    origin: str | None = None

    @property
    def user_id(self) -> str:
        return self.principal.user_id


def omitted_notice(omitted_turns: int) -> str | None:
    """The sentence a reply carries when history was trimmed; None when nothing was."""
    if omitted_turns <= 0:
        return None
    turns = "turn was" if omitted_turns == 1 else "turns were"
    return f"{omitted_turns} earlier {turns} left out to fit the model's context window."
