"""Input limits: the first guard every request passes, before any other work.

Bounds the number of messages, characters per message, characters in total and the
reply budget (``max_tokens``). It raises :class:`~habla.core.errors.InputTooLarge` with
the offending parameter named, so channels can say exactly what to shorten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from habla.core.errors import InputTooLarge
from habla.core.messages import Message


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_messages: int
    max_message_chars: int
    max_total_chars: int
    max_tokens_cap: int

    def check(self, messages: Sequence[Message], max_tokens: int | None) -> None:
        if len(messages) > self.max_messages:
            raise InputTooLarge(
                f"too many messages: {len(messages)} (the limit is {self.max_messages})",
                param="messages",
            )
        total = 0
        for index, message in enumerate(messages):
            size = len(message.text)
            if size > self.max_message_chars:
                raise InputTooLarge(
                    f"message {index} has {size} characters "
                    f"(the limit is {self.max_message_chars})",
                    param=f"messages[{index}].content",
                )
            total += size
        if total > self.max_total_chars:
            raise InputTooLarge(
                f"the messages have {total} characters in all "
                f"(the limit is {self.max_total_chars})",
                param="messages",
            )
        if max_tokens is not None and max_tokens > self.max_tokens_cap:
            raise InputTooLarge(
                f"max_tokens is {max_tokens}; this server allows at most {self.max_tokens_cap}",
                param="max_tokens",
            )
