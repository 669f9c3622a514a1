"""A reply stream run through output guards, with a hold-back.

Each delta is checked together with the end of the text before it (so a match spanning
two deltas is found), and the last ``hold`` characters stay back until the next delta has
been checked too: text that trips a guard never reaches the consumer, even in part. A
block ends the stream with the guard's :class:`~habla.core.events.Finished` and closes the
backend's stream, which stops generation.

When the backend fails, the checked text still held back is released before the error.
When the consumer stops early (a client that went away), :attr:`GuardedStream.held` is what
had been checked but not yet sent, so the engine can store the partial reply whole.

This module does not know what the guards look for: the pipeline passes ``check``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from habla.core.events import Finished, StreamEvent, TextDelta

Check = Callable[[str], Awaitable[Finished | None]]


class GuardedStream:
    def __init__(
        self, events: AsyncIterator[StreamEvent], check: Check, *, hold: int, window: int
    ) -> None:
        self.held = ""
        self._events = events
        self._check = check
        self._hold = hold
        self._window = window
        self._run = self._guarded()

    def __aiter__(self) -> GuardedStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._run.__anext__()

    async def aclose(self) -> None:
        await self._run.aclose()
        await _close(self._events)

    async def _guarded(self) -> AsyncGenerator[StreamEvent, None]:
        tail = ""  # the end of what was checked before
        try:
            async for event in self._events:
                if not isinstance(event, TextDelta):
                    if self.held:
                        yield self._release(len(self.held))
                    yield event
                    continue
                window = tail + event.text  # a long delta is checked whole, not only its end
                tail = window[-self._window :]
                blocked = await self._check(window)
                if blocked is not None:
                    self.held = ""  # the start of the leak: neither sent nor stored
                    await _close(self._events)
                    yield blocked
                    return
                self.held += event.text
                if len(self.held) > self._hold:
                    yield self._release(len(self.held) - self._hold)
        except Exception:
            if self.held:  # checked already; the backend failing does not make it unsafe
                yield self._release(len(self.held))
            raise

    def _release(self, size: int) -> TextDelta:
        text, self.held = self.held[:size], self.held[size:]
        return TextDelta(text)


async def _close(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
