"""A reply that grows in place: send once, then edit at a throttled rate, split at 4096.

:class:`StreamingReply` collects text deltas. At most every ``interval`` seconds it
brings Telegram up to date: each piece of :func:`~.formatting.split_message` is one
message, the first ones sent as the text arrives, later changes made by editing (only
the pieces that changed). :meth:`finish` always brings the messages up to date, whatever
the interval. Delivery rules (429, 403, parse errors) are :class:`~.sender.Sender`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from habla.interfaces.telegram.formatting import TELEGRAM_LIMIT, split_message, to_html
from habla.interfaces.telegram.sender import Sender


@dataclass
class _Sent:
    message_id: int
    text: str


class StreamingReply:
    def __init__(
        self,
        sender: Sender,
        chat_id: int,
        *,
        interval: float,
        reply_to: int | None = None,
        limit: int = TELEGRAM_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sender = sender
        self._chat_id = chat_id
        self._interval = interval
        self._reply_to = reply_to
        self._limit = limit
        self._clock = clock
        self._text = ""
        self._sent: list[_Sent] = []
        self._last = -float("inf")

    @property
    def text(self) -> str:
        return self._text

    @property
    def message_ids(self) -> list[int]:
        return [sent.message_id for sent in self._sent]

    async def add(self, delta: str) -> None:
        self._text += delta
        if self._clock() - self._last >= self._interval:
            await self._update()

    async def finish(self, *, fallback: str, note: str | None = None) -> None:
        """Final state; ``fallback`` if nothing was said, ``note`` appended on its line."""
        if not self._text.strip():
            self._text = fallback
        if note:
            self._text = f"{self._text.rstrip()}\n\n{note}"
        await self._update()

    async def _update(self) -> None:
        if not self._text.strip():
            return
        self._last = self._clock()
        for index, piece in enumerate(split_message(self._text, self._limit)):
            if index < len(self._sent):
                sent = self._sent[index]
                if sent.text != piece:
                    await self._sender.edit(self._chat_id, sent.message_id, to_html(piece), piece)
                    sent.text = piece
            else:
                reply_to = self._reply_to if index == 0 else None
                message_id = await self._sender.send(
                    self._chat_id, to_html(piece), piece, reply_to=reply_to
                )
                self._sent.append(_Sent(message_id, piece))
