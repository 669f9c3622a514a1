"""``habla serve``: run the API with uvicorn."""

from __future__ import annotations

import asyncio
import os

import uvicorn

from habla.runtime import Runtime
from habla.settings import Settings

APP_FACTORY = "habla.interfaces.api.app:app_from_env"


async def _preflight(settings: Settings, host: str) -> None:
    """Refuse to start, with one clear line, when this address needs accounts it lacks."""
    async with Runtime.open(settings, serving_on=host, load_models=False):
        pass


def serve(settings: Settings, *, host: str | None, port: int | None, log_level: str) -> int:
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    asyncio.run(_preflight(settings, bind_host))
    # The app reads its settings from the environment (uvicorn imports it by name).
    os.environ["HABLA_HOST"] = bind_host
    os.environ["HABLA_PORT"] = str(bind_port)
    print(
        f"habla: serving on http://{bind_host}:{bind_port} (default model {settings.default_model})"
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=bind_host,
        port=bind_port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )
    return 0
