"""Rendering engine events as OpenAI responses: completion objects and SSE chunks.

SSE lines are always ``data: <json>\\n\\n`` produced by ``json.dumps``, so nothing a model
writes can forge an event or a ``[DONE]`` line (OWASP LLM05).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from habla.core.events import FinishReason, Usage

KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"


def openai_finish_reason(reason: FinishReason) -> str:
    return reason if reason in ("stop", "length", "content_filter") else "stop"


def usage_json(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


class CompletionRenderer:
    def __init__(self, model: str, habla: dict[str, Any], *, include_usage: bool = False) -> None:
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.model = model
        self.habla = habla
        self.include_usage = include_usage

    def completion(self, text: str, reason: FinishReason, usage: Usage) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": openai_finish_reason(reason),
                }
            ],
            "usage": usage_json(usage),
            "system_fingerprint": None,
            "habla": self.habla,
        }

    def _chunk(self, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def first_chunk(self) -> bytes:
        chunk = self._chunk({"role": "assistant", "content": ""}, None)
        chunk["habla"] = self.habla
        return sse(chunk)

    def delta_chunk(self, text: str) -> bytes:
        return sse(self._chunk({"content": text}, None))

    def finish_chunk(self, reason: FinishReason) -> bytes:
        return sse(self._chunk({}, openai_finish_reason(reason)))

    def usage_chunk(self, usage: Usage) -> bytes:
        chunk = self._chunk({}, None)
        chunk["choices"] = []
        chunk["usage"] = usage_json(usage)
        return sse(chunk)
