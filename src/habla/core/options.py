"""Generation options and the request a backend receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from habla.core.messages import Message


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """Sampling options. ``max_tokens`` is always resolved (never None) by the engine."""

    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a backend is asked to continue: structured messages, never one flat string."""

    messages: tuple[Message, ...]
    options: GenerationOptions = field(default_factory=GenerationOptions)
