"""Running a reply while watching the client: streaming pump, disconnects, keep-alives.

A client that goes away cancels its generation: for streams and for plain requests alike
we watch the connection for ``http.disconnect`` and cancel the task producing the reply
(the engine then stores what was produced, marked incomplete, and frees the model).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from starlette.requests import Request

from habla.core.events import StreamEvent, TextDelta

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before the reply was ready."""


class _End:
    pass


_END = _End()


async def wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; if the client disconnects first, cancel it and raise ClientGone."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise ClientGone
    return task.result()


class EventPump:
    """Pulls a stream in its own task so the reader can wait with timeouts."""

    def __init__(self, events: AsyncIterator[StreamEvent]) -> None:
        self._queue: asyncio.Queue[StreamEvent | BaseException | _End] = asyncio.Queue()
        self._held: StreamEvent | BaseException | _End | None = None
        self._task = asyncio.ensure_future(self._run(events))

    async def _run(self, events: AsyncIterator[StreamEvent]) -> None:
        try:
            async for event in events:
                await self._queue.put(event)
        except Exception as exc:  # handed to the reader, who decides how to report it
            await self._queue.put(exc)
            return
        await self._queue.put(_END)

    async def next(self, timeout: float | None = None) -> StreamEvent | None:
        """The next event; None at the end. Raises TimeoutError, or the stream's error.

        Text that has piled up while the writer was busy comes out as one delta: fewer,
        larger SSE chunks when the client or the network is the slow side."""
        item = (
            self._held
            if self._held is not None
            else await asyncio.wait_for(self._queue.get(), timeout)
        )
        self._held = None
        if isinstance(item, TextDelta):
            item = self._merge_waiting_text(item)
        if isinstance(item, _End):
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def _merge_waiting_text(self, first: TextDelta) -> TextDelta:
        parts = [first.text]
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not isinstance(item, TextDelta):
                self._held = item
                break
            parts.append(item.text)
        return first if len(parts) == 1 else TextDelta("".join(parts))

    def cancel(self) -> None:
        self._task.cancel()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._task, return_exceptions=True)
