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
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal, get_args

from habla.core.errors import ConfigError
from habla.guards.base import GuardContext, Verdict
from habla.guards.normalize import views

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
class Rule:
    id: str
    weight: float
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Detection:
    score: float
    rules: tuple[str, ...] = ()


class InjectionDetector:
    """Scores text against a fixed rule set; stateless after construction, thread-safe."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        if not rules:
            raise ConfigError("the injection guard needs at least one rule")
        ids = [rule.id for rule in rules]
        if len(set(ids)) != len(ids):
            raise ConfigError("injection rule ids must be unique")
        self.rules = tuple(rules)

    @classmethod
    def bundled(cls) -> InjectionDetector:
        """The rules shipped in the package (``habla/guards/data/injection_rules.toml``)."""
        source = resources.files("habla.guards").joinpath("data/injection_rules.toml")
        return cls.from_toml(source.read_text(encoding="utf-8"))

    @classmethod
    def from_toml(cls, text: str) -> InjectionDetector:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"injection rules are not valid TOML: {exc}") from exc
        raw_rules = data.get("rule")
        if not isinstance(raw_rules, list):
            raise ConfigError("injection rules need a [[rule]] table array")
        return cls([_parse_rule(raw) for raw in raw_rules])

    def scan(self, text: str) -> Detection:
        matched: dict[str, float] = {}
        for view in views(text).views:
            for rule in self.rules:
                if rule.id in matched or not any(k in view for k in rule.keywords):
                    continue
                if rule.pattern.search(view):
                    matched[rule.id] = rule.weight
        return Detection(round(sum(matched.values()), 3), tuple(sorted(matched)))


def _parse_rule(raw: object) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError("each [[rule]] must be a table")
    rule_id = raw.get("id")
    weight = raw.get("weight")
    keywords = raw.get("keywords")
    pattern = raw.get("pattern")
    if not isinstance(rule_id, str) or not rule_id:
        raise ConfigError(f"an injection rule has no id: {sorted(raw)}")
    if not isinstance(weight, int | float) or not 0 < weight <= 10:
        raise ConfigError(f"rule {rule_id}: weight must be a number in (0, 10]")
    if not isinstance(keywords, list) or not keywords:
        raise ConfigError(f"rule {rule_id}: keywords must be a non-empty list")
    if not all(isinstance(k, str) and k for k in keywords):
        raise ConfigError(f"rule {rule_id}: keywords must be non-empty strings")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"rule {rule_id}: pattern must be a non-empty string")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"rule {rule_id}: bad pattern: {exc}") from exc
    return Rule(rule_id, float(weight), tuple(k.casefold() for k in keywords), compiled)


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
        return Verdict("allow", f"{FLAG_REASON} (logged only)", rules=found.rules, score=found.score)
