"""Prompt-injection and jailbreak guard: weighted regex rules plus a small classifier.

:class:`InjectionDetector` scores a text over the normalised views from
:func:`habla.guards.normalize.views`: the rules in ``data/injection_rules.toml`` that match
any view are the evidence, and the classifier of :mod:`habla.guards.injection_model` weighs
that evidence with the words around it into a probability; the score is that probability
over :data:`MODEL_CUTOFF` (see :func:`combined_score`), so at or over the threshold (1.0)
is an attack. A ``decisive`` rule (chat-template tokens), words hidden in Unicode tag
characters, or strong rules from two families at once are an attack whatever the
classifier says. Without a classifier the rules' weights add up, as they used to.
:class:`InjectionGuard` turns that into the configured action — ``block``, ``flag`` (the
turn proceeds, the channel tells the client) or ``log`` — globally or per persona, and
reports the rule ids (``model.ngram`` when the classifier crossed its cut-off) and the
score so the decision can be logged without the user's text.

Speed: rules are compiled once; a rule only runs when one of its keywords occurs in a
view (a substring test), and patterns use bounded gaps only; the classifier sums
per-word weights. The work is linear in the text, and long texts are checked in a worker
thread, off the event loop.

It does not look at the model's reply. The rules catch the phrasings they describe (in
English, Spanish and a few other languages) and their obvious obfuscations; the
classifier generalises from its training corpus to nearby paraphrases, not to every
attack anyone will write: docs/guardrails.md gives the measured rates.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from habla.core.errors import ConfigError
from habla.guards.base import GuardContext, Verdict
from habla.guards.bundled import data_text
from habla.guards.injection_model import NgramModel
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


# With the classifier, the score is its probability over this cut-off, so the default
# threshold (1.0) means "the probability reached the cut-off". The classifier sees which
# rules matched (each has a learnt weight), so the rules inform the decision rather than
# override it. Chosen by cross-validation on the train split for at most ~3% false
# positives (tests/data/train_injection_model.py --folds; docs/guardrails.md).
# Two backstops the classifier cannot talk down: a ``decisive`` rule, and strong evidence
# from at least two rule *families* ("override" and "exfil": each family counts its
# heaviest rule once). Counting rules rather than families was tried and dropped after
# heldout3: two overlapping rules matching one quoted phrase in a question about prompt
# injection outvoted a classifier that was right.
MODEL_CUTOFF = 0.8
MAX_SCORE = round(1 / MODEL_CUTOFF, 3)  # a backstop scores the top of the scale
FAMILIES_ALONE = 2.0
MODEL_RULE_ID = "model.ngram"
SMUGGLED_RULE_ID = "smuggled.tag_text"


def family_score(rules: Iterable[Rule]) -> float:
    """The heaviest rule of each family (the id up to its first dot), added up."""
    heaviest: dict[str, float] = {}
    for rule in rules:
        family = rule.id.split(".", 1)[0]
        heaviest[family] = max(heaviest.get(family, 0.0), rule.weight)
    return sum(heaviest.values())


def combined_score(probability: float, families: float = 0.0, decisive: bool = False) -> float:
    """The guard's score: the classifier's probability over :data:`MODEL_CUTOFF`, unless a
    backstop reaches the threshold by itself."""
    backstop = MAX_SCORE if decisive or families >= FAMILIES_ALONE else 0.0
    return round(max(probability / MODEL_CUTOFF, backstop), 3)


@dataclass(frozen=True, slots=True)
class Detection:
    score: float
    rules: tuple[str, ...] = ()
    probability: float | None = None  # the classifier's, when it ran


class InjectionDetector:
    """Scores text with the rules and, when given one, the classifier; thread-safe."""

    def __init__(self, rules: Sequence[Rule], model: NgramModel | None = None) -> None:
        if not rules and model is None:
            raise ConfigError("the injection guard needs at least one rule or a classifier")
        self.rules = tuple(rules)
        self.model = model

    @classmethod
    def bundled(cls) -> InjectionDetector:
        """The rules and model shipped in the package (``habla/guards/data/``)."""
        return cls(cls.bundled_rules(), NgramModel.bundled())

    @staticmethod
    def bundled_rules() -> tuple[Rule, ...]:
        return _bundled_rules()

    @classmethod
    def from_toml(cls, text: str, model: NgramModel | None = None) -> InjectionDetector:
        return cls(parse_rules(text, "injection rules"), model)

    def scan(self, text: str) -> Detection:
        found = views(text)
        seen = found.views
        matched = match(self.rules, seen)
        ids = sorted(matched)
        # Words hidden in invisible tag characters are meant for a model, not a reader. (A
        # single hidden token is how emoji flags such as England's are spelt: allowed.)
        smuggled = len(found.smuggled.split()) >= 2
        if smuggled:
            ids.append(SMUGGLED_RULE_ID)
        if self.model is None:  # rules alone: their weights add up
            score = sum(r.weight for r in matched.values()) + (1.0 if smuggled else 0.0)
            return Detection(round(score, 3), tuple(ids))
        probability = round(self.model.probability(found.plain, ids), 3)
        if probability >= MODEL_CUTOFF:
            ids.append(MODEL_RULE_ID)
        decisive = smuggled or any(rule.decisive for rule in matched.values())
        families = family_score(matched.values())
        score = combined_score(probability, families, decisive)
        return Detection(score, tuple(ids), probability)


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


@functools.cache
def _bundled_rules() -> tuple[Rule, ...]:
    # The package's own rules are read-only and every app a process builds needs them:
    # parse (and compile) them once, as the bundled model is loaded once.
    return parse_rules(data_text("injection_rules.toml"), "injection rules")
