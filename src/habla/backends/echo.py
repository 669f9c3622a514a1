"""The ``echo`` backend: replies with the last user message. Deterministic, instant,
no dependencies — for demos, smoke tests and checking a deployment end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from habla.backends.base import Capabilities
from habla.backends.scripted import chunk_words, message_tokens
from habla.core.events import Finished, FinishReason, StreamEvent, TextDelta, Usage
from habla.core.messages import Message
from habla.core.options import ChatRequest


class EchoBackend:
    def __init__(self, name: str = "echo", *, context_window: int = 8192) -> None:
        self._model_id = f"echo:{name}"
        self._capabilities = Capabilities(context_window=context_window, vision=True, local=True)

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
        last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
        text = last_user.text if last_user is not None else ""
        chunks = chunk_words(text)
        limit = request.options.max_tokens
        for chunk in chunks[:limit]:
            yield TextDelta(chunk)
        reason: FinishReason = "length" if len(chunks) > limit else "stop"
        # A chunk is this backend's token (as for ``scripted``): max_tokens limits chunks,
        # so usage counts them too and never exceeds max_tokens.
        usage = Usage(await self.count_tokens(request.messages), len(chunks[:limit]))
        yield Finished(reason, usage)
