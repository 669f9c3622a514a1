"""Building a ChatService by hand for engine-level tests: memory store, fake backends."""

from __future__ import annotations

from collections.abc import Sequence

from habla.backends.base import Backend
from habla.backends.registry import ModelRegistry
from habla.chat.metering import Metering
from habla.chat.personas import Personas
from habla.chat.service import ChatService
from habla.core.identity import Principal
from habla.guards.limits import InputLimits
from habla.guards.pipeline import GuardPipeline
from habla.store.memory import MemoryStore

ANA = Principal(user_id="ana", name="ana", role="user", via="api_key")
BOB = Principal(user_id="bob", name="bob", role="user", via="api_key")

LIMITS = InputLimits(
    max_messages=50, max_message_chars=10_000, max_total_chars=50_000, max_tokens_cap=1000
)


def build_service(
    backends: Sequence[Backend],
    *,
    store: MemoryStore | None = None,
    metering: Metering | None = None,
) -> tuple[ChatService, MemoryStore]:
    store = store or MemoryStore()
    registry = ModelRegistry({b.model_id: b for b in backends}, backends[0].model_id)
    service = ChatService(
        models=registry,
        store=store,
        personas=Personas({"default": "Be helpful.", "pirate": "Talk like a pirate."}),
        guards=GuardPipeline(LIMITS),
        metering=metering,
    )
    return service, store
