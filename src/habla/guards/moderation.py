"""Content moderation: local rules, or OpenAI's moderation endpoint, behind one guard.

:class:`LocalModeration` matches ``data/moderation_rules.toml`` (violence, self-harm,
sexual content involving minors, hate, weapons and drugs in English and Spanish; making
drugs and explosives, poison, malware, other people's accounts, covert tracking, phishing
and fraud in eight languages) over the normalised views of a text.
:class:`OpenAIModeration` asks ``POST {base_url}/moderations``.
:class:`ModerationGuard` picks one per turn — the remote endpoint only for the models it
is configured for, so text meant for a local model is not sent to a third party — and,
when the endpoint fails, either falls back to the local rules (``fail="open"``) or refuses
to go on (``fail="closed"``, :class:`~habla.core.errors.BackendUnavailable`).

A refusal is polite and names the policy (the category), never the rule that matched.
This module does not log user text; it does not keep a connection pool (one short-lived
HTTP client per remote check).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from habla.core.errors import BackendUnavailable, ConfigError
from habla.guards.base import GuardContext, Verdict
from habla.guards.bundled import data_text, parse_toml
from habla.guards.normalize import views
from habla.guards.rules import Rule, match, parse_rules

log = logging.getLogger(__name__)

FailMode = Literal["open", "closed"]
OFFLOAD_CHARS = 2_000
_SENTENCE_ENDS = (".", "!", "?", "\n", "。")

# OpenAI's category names -> the policy a refusal names.
OPENAI_POLICIES: Mapping[str, str] = {
    "sexual/minors": "sexual content involving minors",
    "self-harm/intent": "self-harm",
    "self-harm/instructions": "self-harm",
    "self-harm": "self-harm",
    "violence/graphic": "graphic violence",
    "violence": "violence against people",
    "hate/threatening": "hateful content",
    "hate": "hateful content",
    "harassment/threatening": "harassment",
    "harassment": "harassment",
    "illicit/violent": "weapons, explosives and other ways to cause mass harm",
    "illicit": "illegal activities",
    "sexual": "sexual content",
}
SELF_HARM_NOTE = (
    " If you are thinking about hurting yourself, please talk to someone you trust or "
    "contact a local crisis line; in an emergency, call your local emergency number."
)


def refusal(policy: str) -> str:
    message = (
        f"Sorry, I can't help with this request: it falls under our content policy on {policy}."
    )
    return message + (SELF_HARM_NOTE if policy == "self-harm" else "")


@dataclass(frozen=True, slots=True)
class LocalModeration:
    """Category rules matched locally; cheap enough to run on every message."""

    rules: tuple[Rule, ...]
    policies: Mapping[str, str]  # category -> the policy named in a refusal

    @classmethod
    def bundled(cls) -> LocalModeration:
        return cls.from_toml(data_text("moderation_rules.toml"))

    @classmethod
    def from_toml(cls, text: str) -> LocalModeration:
        rules = parse_rules(text, "moderation rules")
        policies = parse_toml(text, "moderation rules").get("categories")
        if not isinstance(policies, dict) or not all(
            isinstance(v, str) and v for v in policies.values()
        ):
            raise ConfigError("moderation rules need a [categories] table of policy names")
        for rule in rules:
            if rule.category not in policies:
                raise ConfigError(f"moderation rule {rule.id}: unknown category {rule.category!r}")
        return cls(rules, dict(policies))

    def check_text(self, text: str) -> Verdict:
        matched = match(self.rules, views(text).views)
        if not matched:
            return Verdict.allow()
        first = next(iter(matched.values()))
        ids = tuple(sorted(matched))
        return Verdict("block", refusal(self.policies[first.category]), rules=ids, score=1.0)


@dataclass(frozen=True, slots=True)
class OpenAIModeration:
    """OpenAI's ``/moderations`` endpoint; raises ``BackendUnavailable`` when it fails."""

    base_url: str
    api_key: str = field(repr=False)
    model: str = "omni-moderation-latest"
    timeout: float = 5.0

    async def check_text(self, text: str) -> Verdict:
        url = self.base_url.rstrip("/") + "/moderations"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        body = {"model": self.model, "input": text}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"moderation endpoint unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code != 200:
            raise BackendUnavailable(f"moderation endpoint answered HTTP {response.status_code}")
        try:
            result = response.json()["results"][0]
            flagged = bool(result["flagged"])
            categories: dict[str, Any] = dict(result.get("categories") or {})
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendUnavailable("moderation endpoint answered in an unknown shape") from exc
        if not flagged:
            return Verdict.allow()
        hits = [name for name, on in categories.items() if on is True]
        return Verdict(
            "block", refusal(_policy_for(hits)), rules=tuple(f"openai:{h}" for h in hits), score=1.0
        )


def _policy_for(categories: Sequence[str]) -> str:
    for name, policy in OPENAI_POLICIES.items():  # ordered most specific first
        if name in categories:
            return policy
    return "harmful content"


@dataclass
class ModerationGuard:
    """Moderates with the remote endpoint for ``remote_models`` (model id prefixes; None:
    every model), with the local rules otherwise.

    ``sentence_gated`` is for output checks, which see a sliding window on every delta: the
    remote endpoint is asked only when the window ends a sentence, the local rules always.
    """

    local: LocalModeration
    remote: OpenAIModeration | None = None
    remote_models: tuple[str, ...] | None = ("openai:",)
    fail: FailMode = "open"
    sentence_gated: bool = False
    guard_name: str = "moderation"

    def __post_init__(self) -> None:
        if self.fail not in ("open", "closed"):
            raise ConfigError(f"moderation_fail must be 'open' or 'closed', not {self.fail!r}")

    @property
    def name(self) -> str:
        return self.guard_name

    def uses_remote(self, ctx: GuardContext) -> bool:
        if self.remote is None:
            return False
        if self.remote_models is None:
            return True
        return ctx.model.startswith(self.remote_models)

    async def check(self, text: str, ctx: GuardContext) -> Verdict:
        if not text.strip():
            return Verdict.allow()
        remote = self.remote if self.uses_remote(ctx) else None
        if remote is not None and not (
            self.sentence_gated and not text.rstrip(" \t").endswith(_SENTENCE_ENDS)
        ):
            try:
                return await remote.check_text(text)
            except BackendUnavailable as exc:
                if self.fail == "closed":
                    raise BackendUnavailable(
                        "content moderation is unavailable right now; please try again shortly"
                    ) from exc
                log.warning("moderation endpoint failed (%s); using the local rules", exc)
        if len(text) > OFFLOAD_CHARS:
            return await asyncio.to_thread(self.local.check_text, text)
        return self.local.check_text(text)
