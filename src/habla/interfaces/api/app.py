"""The FastAPI application: wiring of middleware, routes and the runtime lifespan.

``create_app(settings)`` builds an app that opens its own :class:`~habla.runtime.Runtime`
on start-up; ``app_from_env`` is the factory ``habla serve`` hands to uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from habla import __version__
from habla.interfaces.api import (
    account_routes,
    chat_routes,
    conversation_routes,
    health_routes,
    me_routes,
    openai_routes,
    persona_routes,
)
from habla.interfaces.api.body_limit import BodySizeLimit
from habla.interfaces.api.errors import install_error_handlers
from habla.interfaces.web import routes as web_routes
from habla.runtime import Runtime
from habla.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Runtime.open(settings, serving_on=settings.host) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="habla",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    routers = (health_routes, openai_routes, chat_routes, conversation_routes, me_routes)
    for module in (*routers, account_routes):
        app.include_router(module.router)
    # Web chat page (issue #6): GET /v1/personas for its picker, and the page itself.
    app.include_router(persona_routes.router)
    app.include_router(web_routes.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=[
                "X-Habla-Conversation-Id",
                "X-Habla-Omitted-Turns",
                "Retry-After",
                "X-Habla-Guard",
            ],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Telegram bot (#4): webhook mode, mounted only with a token and a webhook secret.
    if settings.telegram_token is not None and settings.telegram_webhook_secret is not None:
        from habla.interfaces.telegram import require_telegram

        require_telegram()
        from habla.interfaces.telegram.webhook import mount_webhook

        mount_webhook(app, settings)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment and ``.env``."""
    return create_app(Settings())
