"""Builds the input guards (injection, moderation) from settings.

Order matters: moderation runs first, so a harmful request is refused under its policy
even when it also looks like an injection; the injection guard then scores what is left.
Untrusted text (retrieved documents, forwarded messages) gets the injection guard only.
Unknown personas in ``persona_guards`` fail here, at start, with the names listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from habla.core.errors import ConfigError
from habla.guards.base import Guard
from habla.guards.injection import InjectionDetector, InjectionGuard
from habla.guards.moderation import LocalModeration, ModerationGuard, OpenAIModeration
from habla.settings import Settings

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class InputGuards:
    input: tuple[Guard, ...] = ()
    output: tuple[Guard, ...] = ()
    untrusted: tuple[Guard, ...] = field(default_factory=tuple)


def build_input_guards(settings: Settings) -> InputGuards:
    personas = settings.all_personas()
    unknown = sorted(set(settings.persona_guards) - set(personas))
    if unknown:
        raise ConfigError(
            f"persona_guards names personas that do not exist: {', '.join(unknown)} "
            f"(configured: {', '.join(sorted(personas))})"
        )
    injection = InjectionGuard(
        InjectionDetector.bundled(),
        threshold=settings.injection_threshold,
        action=settings.injection_action,
        persona_actions=dict(settings.persona_guards),
    )
    moderation = _moderation(settings, output=False)
    inputs: tuple[Guard, ...] = (injection,) if moderation is None else (moderation, injection)
    output = _moderation(settings, output=True) if settings.moderate_output else None
    return InputGuards(inputs, () if output is None else (output,), (injection,))


def _moderation(settings: Settings, *, output: bool) -> ModerationGuard | None:
    if settings.moderation == "off":
        return None
    remote = None
    key = settings.openai_api_key
    if settings.moderation in ("auto", "openai") and key is not None:
        remote = OpenAIModeration(
            base_url=settings.openai_base_url or OPENAI_DEFAULT_BASE_URL,
            api_key=key.get_secret_value(),
            model=settings.moderation_model,
            timeout=settings.moderation_timeout,
        )
    return ModerationGuard(
        LocalModeration.bundled(),
        remote,
        # "auto": only text already bound for an OpenAI model goes to OpenAI's endpoint.
        remote_models=None if settings.moderation == "openai" else ("openai:",),
        fail=settings.moderation_fail,
        sentence_gated=output,
        guard_name="output moderation" if output else "moderation",
    )
