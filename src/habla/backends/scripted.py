"""The ``scripted`` backend: plays back replies from a script and records what it got.

It ships in the package so that tests and demos can drive every channel with exact,
repeatable replies — including slow replies, replies that fail half way, and a backend
that is down — and can prove what a backend actually received (``record_path``).
It is not a model and makes no attempt to look like one.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from habla.backends.base import Capabilities, estimate_tokens
from habla.core.errors import BackendRejected, BackendUnavailable, ConfigError
from habla.core.events import Finished, FinishReason, StreamEvent, TextDelta, Usage
from habla.core.messages import Image, Message
from habla.core.options import ChatRequest

_WORDS = re.compile(r"\s*\S+\s*|\s+")
_MESSAGE_OVERHEAD = 4  # role markers a chat template adds around every message


def chunk_words(text: str) -> list[str]:
    """Split text into word-sized chunks whose concatenation is exactly ``text``."""
    return _WORDS.findall(text)


def message_tokens(messages: Sequence[Message]) -> int:
    """Deterministic prompt-token count used by the fake backends."""
    total = 0
    for message in messages:
        total += _MESSAGE_OVERHEAD + estimate_tokens(message.text)
        total += 85 * len(message.images)  # what a low-detail image costs on GPT-4o
    return total


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One reply. ``fail`` makes the backend raise instead: before any text
    (``fail_after=0``) or after that many chunks."""

    text: str = ""
    delay: float = 0.0
    fail: str | None = None  # "unavailable" | "rejected"
    fail_after: int = 0

    @classmethod
    def from_json(cls, raw: object) -> ScriptedReply:
        if isinstance(raw, str):
            return cls(text=raw)
        if not isinstance(raw, dict):
            raise ConfigError(f"a scripted reply is a string or an object, got {raw!r}")
        try:
            return cls(
                text=str(raw.get("text", "")),
                delay=float(raw.get("delay", 0.0)),
                fail=raw.get("fail"),
                fail_after=int(raw.get("fail_after", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad scripted reply {raw!r}: {exc}") from exc


class ScriptedBackend:
    """Replies in order from ``replies``, cycling when it runs out."""

    def __init__(
        self,
        name: str,
        replies: Sequence[ScriptedReply],
        *,
        context_window: int = 8192,
        vision: bool = True,
        record_path: Path | None = None,
    ) -> None:
        if not replies:
            raise ConfigError("the scripted backend needs at least one reply")
        self._model_id = f"scripted:{name}"
        self._replies = tuple(replies)
        self._next = 0
        self._capabilities = Capabilities(context_window=context_window, vision=vision, local=True)
        self._record_path = record_path
        self.received: list[ChatRequest] = []

    @classmethod
    def from_file(cls, name: str, path: Path, **kwargs: object) -> ScriptedBackend:
        """Load ``{"replies": [...], "context_window": N}`` from a JSON file."""
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the script {path}: {exc}") from exc
        replies = [ScriptedReply.from_json(r) for r in spec.get("replies", [])]
        window = int(spec.get("context_window", 8192))
        return cls(name, replies, context_window=window, **kwargs)  # type: ignore[arg-type]

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

    def _take_reply(self) -> ScriptedReply:
        reply = self._replies[self._next % len(self._replies)]
        self._next += 1
        return reply

    def _record(self, request: ChatRequest) -> None:
        self.received.append(request)
        if self._record_path is None:
            return
        entry = {
            "messages": [
                {
                    "role": m.role,
                    "text": m.text,
                    "images": [
                        {"mime": p.mime, "bytes": len(p.data)}
                        for p in m.parts
                        if isinstance(p, Image)
                    ],
                }
                for m in request.messages
            ],
            "max_tokens": request.options.max_tokens,
        }
        with self._record_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self._record(request)
        reply = self._take_reply()
        chunks = chunk_words(reply.text)
        limit = request.options.max_tokens
        produced = 0
        for index, chunk in enumerate(chunks):
            if reply.fail is not None and index == reply.fail_after:
                break
            if produced >= limit:
                break
            if reply.delay:
                await asyncio.sleep(reply.delay)
            produced += 1
            yield TextDelta(chunk)
        if reply.fail == "unavailable" and reply.fail_after <= len(chunks):
            raise BackendUnavailable("the scripted backend is scripted to be down")
        if reply.fail == "rejected":
            raise BackendRejected("the scripted backend is scripted to refuse")
        reason: FinishReason = "length" if produced < len(chunks) else "stop"
        prompt = await self.count_tokens(request.messages)
        yield Finished(reason, Usage(prompt, produced))
