"""Privacy wiring: which backends get masked text, canaries in personas, output guards.

Built once at start from :class:`~habla.settings.Settings`:

- **Masking.** Every backend that ``pii_mask_models`` selects (by default every backend
  whose capabilities are not ``local``) is wrapped in a :class:`MaskingBackend`: each
  request's messages are masked (``<EMAIL_1>`` …) before the backend sees them and the
  reply's placeholders are restored, delta by delta, before anything downstream — output
  guards, the store, the client — sees it. Local backends get the user's raw text.
- **Canaries.** With ``output_guards`` on, each persona's prompt gets its own canary.
- **Output guards.** Canary, verbatim prompt leak and secret scanning, with the hold-back
  they need (:func:`habla.guards.output.hold_back_chars`).

Nothing here is global: :func:`build_privacy` returns values the runtime passes on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace

from habla.backends.base import Backend, Capabilities, split_model_id
from habla.core.errors import ConfigError
from habla.core.events import StreamEvent, TextDelta
from habla.core.messages import Message
from habla.core.options import ChatRequest
from habla.guards.base import Guard
from habla.guards.output import (
    CanaryGuard,
    PromptLeakGuard,
    SecretGuard,
    hold_back_chars,
    make_canaries,
    with_canary,
)
from habla.guards.pii import PiiDetector, PiiMasker
from habla.guards.pii_vault import PlaceholderRestorer
from habla.guards.pipeline import GuardPipeline
from habla.settings import Settings

log = logging.getLogger(__name__)

REMOTE = "remote"  # in pii_mask_models: every backend that is not local
ALL = "*"


class MaskingBackend:
    """A backend that only ever sees masked text; its reply comes back restored."""

    def __init__(self, inner: Backend, masker: PiiMasker) -> None:
        self._inner = inner
        self._masker = masker

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def capabilities(self) -> Capabilities:
        return self._inner.capabilities

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()

    async def count_tokens(self, messages: Sequence[Message]) -> int:
        return await self._inner.count_tokens(messages)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        masked, vault = await self._masker.mask(request.messages)
        if len(vault):
            log.info("masked PII for %s: %s", self.model_id, vault.counts)
        restorer = PlaceholderRestorer(vault)
        events = self._inner.stream(replace(request, messages=masked))
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    text = restorer.feed(event.text)
                    if text:
                        yield TextDelta(text)
                    continue
                rest = restorer.flush()
                if rest:
                    yield TextDelta(rest)
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


@dataclass(frozen=True)
class Privacy:
    backends: dict[str, Backend]
    personas: dict[str, str]  # with canaries when output guards are on
    output_guards: tuple[Guard, ...]
    hold_chars: int

    def guard(self, pipeline: GuardPipeline) -> GuardPipeline:
        """``pipeline`` with these output guards (the input side is left as it is)."""
        return replace(
            pipeline,
            output_guards=(*pipeline.output_guards, *self.output_guards),
            output_hold_chars=max(pipeline.output_hold_chars, self.hold_chars),
        )


def masks(model_id: str, capabilities: Capabilities, selectors: Sequence[str]) -> bool:
    """Whether ``pii_mask_models`` selects this model: ``*``, ``remote`` (not local), a
    backend kind (``openai``) or a model id (``openai:gpt-4o``)."""
    kind, _ = split_model_id(model_id)
    for selector in selectors:
        if selector == ALL or selector in (kind, model_id):
            return True
        if selector == REMOTE and not capabilities.local:
            return True
    return False


def build_privacy(settings: Settings, backends: Mapping[str, Backend]) -> Privacy:
    personas = settings.all_personas()
    backends = _masked_backends(settings, backends)
    if not settings.output_guards:
        return Privacy(backends, personas, (), 0)
    canaries = make_canaries(personas)  # new every process: a leaked one expires on restart
    guards: tuple[Guard, ...] = (
        CanaryGuard(canaries),
        PromptLeakGuard(personas, settings.prompt_leak_chars),
        SecretGuard(),
    )
    return Privacy(
        backends,
        {name: with_canary(prompt, canaries[name]) for name, prompt in personas.items()},
        guards,
        hold_back_chars(settings.prompt_leak_chars),
    )


def _masked_backends(settings: Settings, backends: Mapping[str, Backend]) -> dict[str, Backend]:
    if not settings.pii_mask:
        return dict(backends)
    chosen = [
        model_id
        for model_id, backend in backends.items()
        if masks(model_id, backend.capabilities, settings.pii_mask_models)
    ]
    if not chosen:
        return dict(backends)
    try:
        masker = PiiMasker(PiiDetector(settings.pii_entities))
    except ConfigError as exc:
        raise ConfigError(
            f"{exc.message}. It is needed because {', '.join(chosen)} "
            "gets masked text (HABLA_PII_MASK=false turns masking off)."
        ) from exc
    log.info("PII masking on for: %s", ", ".join(chosen))
    return {
        model_id: MaskingBackend(backend, masker) if model_id in chosen else backend
        for model_id, backend in backends.items()
    }
