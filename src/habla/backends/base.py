"""The backend protocol and the code every backend shares.

A backend has exactly one generation method, :meth:`Backend.stream`. The non-streaming
path, :func:`complete`, is derived from it here so the two can never drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from habla.core.errors import BackendError
from habla.core.events import Finished, FinishReason, StreamEvent, TextDelta, Usage
from habla.core.messages import Message
from habla.core.options import ChatRequest


@dataclass(frozen=True, slots=True)
class Capabilities:
    context_window: int
    vision: bool = False
    tools: bool = False
    # Runs in this process or on this machine: text sent to it never leaves the host, so
    # PII masking (habla.guards.pii) may let it see the user's raw text.
    local: bool = False


@runtime_checkable
class Backend(Protocol):
    """A model that turns structured messages into a stream of events."""

    @property
    def model_id(self) -> str:
        """The public id, ``kind:model``."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def start(self) -> None:
        """Load weights / open clients. Idempotent."""
        ...

    async def close(self) -> None: ...

    async def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens these messages cost, as the model itself counts them."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Generate. Yields text deltas, then exactly one :class:`Finished`.

        Closing the iterator early cancels generation and frees the model.
        """
        ...


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: FinishReason
    usage: Usage


async def complete(backend: Backend, request: ChatRequest) -> Completion:
    """The non-streaming path: drain :meth:`Backend.stream` into one value."""
    return await collect(backend.stream(request))


async def collect(events: AsyncIterator[StreamEvent]) -> Completion:
    chunks: list[str] = []
    finished: Finished | None = None
    async for event in events:
        if isinstance(event, TextDelta):
            chunks.append(event.text)
        else:
            finished = event
    if finished is None:
        raise BackendError("the model stopped without finishing its reply")
    return Completion("".join(chunks), finished.finish_reason, finished.usage)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about four characters a token), for backends that have
    no local tokenizer. Rounds up so that context budgeting errs on the safe side."""
    return (len(text) + 3) // 4


def split_model_id(model_id: str) -> tuple[str, str]:
    """``"llamacpp:smollm2"`` -> ``("llamacpp", "smollm2")``."""
    kind, sep, name = model_id.partition(":")
    if not sep or not kind or not name:
        raise ValueError(f"model ids look like 'kind:model', got {model_id!r}")
    return kind, name
