"""A backend that replies with exactly the deltas it is given, and records its requests.

For engine-level tests that need a reply split at a chosen place (inside a placeholder, in
the middle of a canary) or a backend that is not local. It is a real implementation of
the :class:`~habla.backends.base.Backend` protocol, not a mock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from habla.backends.base import Capabilities
from habla.backends.scripted import message_tokens
from habla.core.events import Finished, StreamEvent, TextDelta, Usage
from habla.core.messages import Message
from habla.core.options import ChatRequest


class DeltaBackend:
    def __init__(
        self,
        model_id: str,
        deltas: Sequence[str],
        *,
        local: bool = False,
        fail_at_end: Exception | None = None,
    ) -> None:
        self._fail = fail_at_end  # raised after the last delta instead of finishing
        self._model_id = model_id
        self._deltas = tuple(deltas)
        self._capabilities = Capabilities(context_window=8192, local=local)
        self.received: list[ChatRequest] = []
        self.closed_early = False

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def count_tokens(self, messages: Sequence[Message]) -> int:
        return message_tokens(messages)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.received.append(request)
        sent = 0
        try:
            for delta in self._deltas:
                yield TextDelta(delta)
                sent += 1
        finally:
            self.closed_early = sent < len(self._deltas)
        if self._fail is not None:
            raise self._fail
        yield Finished("stop", Usage(await self.count_tokens(request.messages), sent))
