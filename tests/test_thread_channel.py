"""The worker-thread-to-event-loop channel: nothing lost, order kept, text merged."""

from __future__ import annotations

import asyncio
import threading

from habla.backends.thread_channel import ThreadChannel, merge_text
from habla.core.events import Finished, TextDelta, Usage


def test_merge_joins_only_consecutive_text() -> None:
    done = Finished("stop", Usage())
    items = [TextDelta("a"), TextDelta("b"), done, TextDelta("c")]
    assert merge_text(items) == [TextDelta("ab"), done, TextDelta("c")]
    assert merge_text([]) == []


async def test_everything_a_thread_puts_arrives_in_order() -> None:
    channel = ThreadChannel(asyncio.get_running_loop())
    words = [f"w{i} " for i in range(2000)]

    def worker() -> None:
        for word in words:
            channel.put(TextDelta(word))
        channel.put(Finished("stop", Usage(1, len(words))))

    thread = threading.Thread(target=worker)
    thread.start()
    received: list[TextDelta | Finished | BaseException] = []
    while not received or not isinstance(received[-1], Finished):
        received.extend(await channel.get_batch())  # type: ignore[arg-type]
    thread.join()
    text = [item for item in received if isinstance(item, TextDelta)]
    assert "".join(t.text for t in text) == "".join(words)
    assert len(text) <= len(words)  # merged where the loop was slower than the thread
    assert received[-1] == Finished("stop", Usage(1, len(words)))
