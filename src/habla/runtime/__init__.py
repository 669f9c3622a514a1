"""The composition root: reads :class:`~habla.settings.Settings` once and builds everything.

:meth:`Runtime.open` is the one async lifespan every channel uses: it opens the store
(running migrations), builds the model registry, starts loading the default model in the
background and closes it all in reverse order. Channels receive the ``Runtime`` and
never construct adapters themselves.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from habla.backends.registry import ModelRegistry
from habla.chat.personas import Personas
from habla.chat.service import ChatService, Defaults
from habla.guards.limits import InputLimits
from habla.guards.pipeline import GuardPipeline
from habla.runtime.models import build_backend
from habla.settings import Settings
from habla.store.base import ConversationStore
from habla.store.sql import SqlStore

log = logging.getLogger(__name__)

LOCAL_USER = "local"  # the single user of an instance without accounts


@dataclass
class Runtime:
    settings: Settings
    store: ConversationStore
    models: ModelRegistry
    chat: ChatService

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, store: ConversationStore | None = None
    ) -> AsyncIterator[Runtime]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = store or SqlStore(settings.resolved_database_url)
        models = ModelRegistry(
            {model_id: build_backend(model_id, settings) for model_id in settings.served_models},
            settings.default_model,
        )
        chat = ChatService(
            models=models,
            store=store,
            personas=Personas(settings.all_personas()),
            guards=GuardPipeline(
                InputLimits(
                    max_messages=settings.max_messages,
                    max_message_chars=settings.max_message_chars,
                    max_total_chars=settings.max_total_chars,
                    max_tokens_cap=settings.max_tokens_cap,
                )
            ),
            defaults=Defaults(max_tokens=settings.default_max_tokens),
        )
        await store.start()
        try:
            models.start_default()
            yield cls(settings, store, models, chat)
        finally:
            await chat.drain()
            await models.close()
            await store.close()
