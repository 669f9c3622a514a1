"""The composition root: reads :class:`~habla.settings.Settings` once and builds everything.

:meth:`Runtime.open` is the one async lifespan every channel uses: it opens the store
(running migrations), the accounts, the limiter and the model registry, starts loading the
default model in the background, and closes it all in reverse order. Channels receive the
``Runtime`` and never construct adapters themselves.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from habla.auth.service import AccountService
from habla.auth.throttle import SignInThrottle
from habla.backends.registry import ModelRegistry
from habla.chat.metering import OverrideSource
from habla.chat.personas import Personas
from habla.chat.service import ChatService, Defaults
from habla.core.errors import NotFound
from habla.guards.limits import InputLimits
from habla.guards.pipeline import GuardPipeline
from habla.runtime.data import build_keyring, build_sweeper
from habla.runtime.exposure import Exposure, check_exposure, weak_secret
from habla.runtime.guards import build_input_guards
from habla.runtime.limits import build_metering, build_signin_throttle
from habla.runtime.models import build_backend
from habla.runtime.privacy import build_privacy
from habla.settings import Settings
from habla.store.sql import SqlStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: SqlStore
    models: ModelRegistry
    chat: ChatService
    accounts: AccountService
    local_mode: bool  # no accounts: every request is the single local user

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, serving_on: str | None = None, load_models: bool = True
    ) -> AsyncIterator[Runtime]:
        """``serving_on``: the address the API binds, which decides whether an instance
        without accounts may run (loopback only) — see :mod:`habla.runtime.exposure`."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        guarding = build_input_guards(settings)  # Guards: injection and moderation
        # Data at rest: the keyring encrypts content; start() refuses a wrong/missing key.
        store = SqlStore(settings.resolved_database_url, keyring=build_keyring(settings))
        metering = build_metering(settings)
        throttle = build_signin_throttle(settings)
        try:
            # Inside the try: a start refused (e.g. a wrong data key) still closes the pool.
            await store.start()
            accounts = await _accounts(settings, store, throttle)
            exposure = await _exposure(settings, store, serving_on)
            metering.user_overrides = _overrides_from(store)
            metering.on_refused = accounts.limit_refused
            # Privacy: PII masking of non-local backends, persona canaries, output guards.
            privacy = build_privacy(
                settings, {m: build_backend(m, settings) for m in settings.served_models}
            )
            models = ModelRegistry(privacy.backends, settings.default_model)
            chat = ChatService(
                models=models,
                store=store,
                personas=Personas(privacy.personas),
                guards=privacy.guard(
                    GuardPipeline(
                        _input_limits(settings),
                        input_guards=guarding.input,
                        output_guards=guarding.output,
                        untrusted_guards=guarding.untrusted,
                    )
                ),
                defaults=Defaults(max_tokens=settings.default_max_tokens),
                metering=metering,
            )
            if load_models:
                models.start_default()
            # Data at rest: retention sweeps run where the server runs, not in CLI commands.
            sweeper = build_sweeper(settings, store) if serving_on is not None else None
            if sweeper is not None:
                sweeper.start()
            try:
                yield cls(settings, store, models, chat, accounts, exposure.local_mode)
            finally:
                if sweeper is not None:
                    await sweeper.stop()
                await chat.drain()
                await models.close()
        finally:
            if throttle is not None:
                await throttle.close()
            await metering.limiter.close()
            await store.close()


def _input_limits(settings: Settings) -> InputLimits:
    return InputLimits(
        max_messages=settings.max_messages,
        max_message_chars=settings.max_message_chars,
        max_total_chars=settings.max_total_chars,
        max_tokens_cap=settings.max_tokens_cap,
    )


async def _accounts(
    settings: Settings, store: SqlStore, throttle: SignInThrottle | None
) -> AccountService:
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    accounts = AccountService(
        store,
        jwt_secret=secret if weak_secret(secret) is None else None,
        token_ttl_seconds=settings.jwt_ttl_seconds,
        throttle=throttle,
    )
    if settings.admin_name and settings.admin_password:
        created = await accounts.ensure_admin(
            settings.admin_name, settings.admin_password.get_secret_value()
        )
        if created is not None:
            log.warning("created the first admin %r from the configuration", created.name)
    return accounts


async def _exposure(settings: Settings, store: SqlStore, serving_on: str | None) -> Exposure:
    users_exist = await store.count_users() > 0
    if serving_on is None:  # the terminal: whoever runs it already has the database
        return Exposure(not users_exist, "")
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    exposure = check_exposure(host=serving_on, users_exist=users_exist, jwt_secret=secret)
    log.warning("habla: %s", exposure.message)
    return exposure


def _overrides_from(store: SqlStore) -> OverrideSource:
    async def overrides(user_id: str) -> Mapping[str, int]:
        try:
            limits = (await store.get_user(user_id)).limits
        except NotFound:
            return {}
        values = {
            "requests_per_minute": limits.requests_per_minute,
            "tokens_per_day": limits.tokens_per_day,
            "tokens_per_month": limits.tokens_per_month,
        }
        return {name: value for name, value in values.items() if value is not None}

    return overrides
