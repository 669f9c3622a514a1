"""Handing events from a worker thread to the event loop, coalescing text on the way.

A local model produces a token every few milliseconds on a worker thread. Waking the
event loop once per token costs CPU the model needs (on a 2-core machine every cycle the
loop spends is taken from llama.cpp). Here the worker schedules at most one wake-up at a
time: while the loop is busy, further tokens pile up and are delivered together as one
merged :class:`~habla.core.events.TextDelta`. When the loop is idle, each token still
goes out at once — no added latency.
"""

from __future__ import annotations

import asyncio
import threading

from habla.core.events import StreamEvent, TextDelta

Item = StreamEvent | BaseException


class ThreadChannel:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: list[Item] = []
        self._wake = asyncio.Event()
        self._wake_scheduled = False

    def put(self, item: Item) -> None:
        """Called from any thread, including the loop's own."""
        with self._lock:
            self._items.append(item)
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        self._loop.call_soon_threadsafe(self._wake.set)

    async def get_batch(self) -> list[Item]:
        """Everything put since the last call (waits for at least a wake-up; a spurious
        wake-up may return an empty list)."""
        await self._wake.wait()
        with self._lock:
            items, self._items = self._items, []
            self._wake_scheduled = False
            self._wake.clear()
        return merge_text(items)


def merge_text(items: list[Item]) -> list[Item]:
    """Joins runs of consecutive text deltas into one."""
    merged: list[Item] = []
    for item in items:
        last = merged[-1] if merged else None
        if isinstance(item, TextDelta) and isinstance(last, TextDelta):
            merged[-1] = TextDelta(last.text + item.text)
        else:
            merged.append(item)
    return merged
