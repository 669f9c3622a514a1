"""Prompt-injection and jailbreak guard: weighted regex rules over normalised views.

:class:`InjectionDetector` scores a text: every rule in ``data/injection_rules.toml`` that
matches any view from :func:`habla.guards.normalize.views` adds its weight once. A score
at or over the threshold is an attack. :class:`InjectionGuard` turns that into the
configured action — ``block``, ``flag`` (the turn proceeds, the channel tells the client)
or ``log`` — globally or per persona, and reports the rule ids and score so the decision
can be logged without the user's text.

Speed: rules are compiled once; a rule only runs when one of its keywords occurs in a
view (a substring test), and patterns use bounded gaps only, so the work is linear in the
text. Long texts are checked in a worker thread, off the event loop.

It does not look at the model's reply, and it is not a classifier: it catches the phrasings
its rules describe (in English, Spanish and a few other languages) and their obvious
obfuscations, not a paraphrase it has never seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal, get_args

from habla.core.errors import ConfigError
from habla.guards.base import GuardContext, Verdict
from habla.guards.normalize import views
from habla.guards.rules import Rule, match, parse_rules

InjectionAction = Literal["block", "flag", "log"]
INJECTION_ACTIONS: tuple[str, ...] = get_args(InjectionAction)
DEFAULT_THRESHOLD = 1.0
# Above this many characters the scan runs in a worker thread: it stays linear, but a
# 100k-character message is worth a few milliseconds of someone else's event loop.
OFFLOAD_CHARS = 2_000

REFUSAL = (
    "Sorry, I can't process this message: it looks like an attempt to override the "
    "assistant's instructions (prompt injection), which this service does not allow. "
    "If that was not your intent, please rephrase it."
)
FLAG_REASON = "possible prompt injection"


@dataclass(frozen=True, slots=True)
class Detection:
    score: float
    rules: tuple[str, ...] = ()


class InjectionDetector:
    """Scores text against a fixed rule set; stateless after construction, thread-safe."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        if not rules:
            raise ConfigError("the injection guard needs at least one rule")
        self.rules = tuple(rules)

    @classmethod
    def bundled(cls) -> InjectionDetector:
        """The rules shipped in the package (``habla/guards/data/injection_rules.toml``)."""
        source = resources.files("habla.guards").joinpath("data/injection_rules.toml")
        return cls.from_toml(source.read_text(encoding="utf-8"))

    @classmethod
    def from_toml(cls, text: str) -> InjectionDetector:
        return cls(parse_rules(text, "injection rules"))

    def scan(self, text: str) -> Detection:
        matched = match(self.rules, views(text).views)
        score = round(sum(rule.weight for rule in matched.values()), 3)
        return Detection(score, tuple(sorted(matched)))


@dataclass
class InjectionGuard:
    """The guard: score, then act as configured for the turn's persona."""

    detector: InjectionDetector
    threshold: float = DEFAULT_THRESHOLD
    action: InjectionAction = "block"
    persona_actions: Mapping[str, InjectionAction] = field(default_factory=dict)
    offload_chars: int = OFFLOAD_CHARS

    def __post_init__(self) -> None:
        for persona, action in {"": self.action, **self.persona_actions}.items():
            if action not in INJECTION_ACTIONS:
                where = f"for persona {persona!r}" if persona else ""
                raise ConfigError(
                    f"injection action {action!r} {where} is not one of {INJECTION_ACTIONS}"
                )
        if not 0 < self.threshold <= 100:
            raise ConfigError("the injection threshold must be in (0, 100]")

    @property
    def name(self) -> str:
        return "injection"

    def action_for(self, persona: str) -> InjectionAction:
        return self.persona_actions.get(persona, self.action)

    async def detect(self, text: str) -> Detection:
        if len(text) > self.offload_chars:
            return await asyncio.to_thread(self.detector.scan, text)
        return self.detector.scan(text)

    async def check(self, text: str, ctx: GuardContext) -> Verdict:
        found = await self.detect(text)
        if found.score < self.threshold:
            return Verdict("allow", rules=found.rules, score=found.score)
        action = self.action_for(ctx.persona)
        if action == "block":
            return Verdict("block", REFUSAL, rules=found.rules, score=found.score)
        if action == "flag":
            return Verdict("flag", FLAG_REASON, rules=found.rules, score=found.score)
        return Verdict(
            "allow", f"{FLAG_REASON} (logged only)", rules=found.rules, score=found.score
        )
