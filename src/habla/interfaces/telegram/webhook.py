"""Webhook mode: ``POST /telegram/webhook`` on the API app.

Telegram sends each update as JSON with the secret given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header. A missing header is 401 and a wrong one 403
(compared in constant time); either way nothing is parsed or processed. A good update is
queued for the bot and answered 200 at once, so Telegram does not time out and redeliver
while a model is answering (a redelivery would be skipped anyway: update ids are
de-duplicated). The bot runs inside the API's lifespan, on the API's runtime.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from telegram import Update

from habla.interfaces.telegram.app import RunningBot, running_bot
from habla.settings import Settings

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


def mount_webhook(app: FastAPI, settings: Settings) -> None:
    """Adds the route, and starts the bot with the app (after the runtime opened)."""
    assert settings.telegram_webhook_secret is not None
    secret = settings.telegram_webhook_secret.get_secret_value().encode()
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[Any]:
        async with outer(app_) as state, running_bot(app_.state.runtime, polling=False) as bot:
            app_.state.telegram = bot
            yield state

    app.router.lifespan_context = lifespan

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return _refuse(401, "missing secret token")
        if not hmac.compare_digest(given.encode(), secret):
            return _refuse(403, "wrong secret token")
        try:
            data = await request.json()
        except ValueError:
            return _refuse(400, "the body is not JSON")
        running: RunningBot = request.app.state.telegram
        try:
            update = (
                Update.de_json(data, running.application.bot) if isinstance(data, dict) else None
            )
        except (KeyError, TypeError, ValueError):
            update = None
        if update is None:
            return _refuse(400, "the body is not a Telegram update")
        await running.application.update_queue.put(update)
        return Response(status_code=200)

    app.add_api_route(PATH, receive, methods=["POST"], include_in_schema=False)


def _refuse(status: int, reason: str) -> JSONResponse:
    log.info("telegram webhook refused: %s", reason)
    return JSONResponse({"ok": False, "description": reason}, status_code=status)
