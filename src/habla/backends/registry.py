"""The models a server offers: a fixed set of backends keyed by public id.

The set is built once, at start, from the operator's configuration. A request can only
pick one of these ids — never a path, URL or file of its own (SECURITY.md: never honour
client-supplied base URLs, model paths or file paths). Backends are started lazily, once,
under a lock; the default one is started eagerly so that readiness means "can answer".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from habla.backends.base import Backend
from habla.core.errors import HablaError, UnknownModel

log = logging.getLogger(__name__)


def _log_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    exc = task.exception()
    message = exc.message if isinstance(exc, HablaError) else repr(exc)
    log.error("the default model could not be loaded: %s", message)


class ModelRegistry:
    def __init__(self, backends: Mapping[str, Backend], default: str) -> None:
        if default not in backends:
            raise ValueError(f"the default model {default!r} is not among the backends")
        self._backends = dict(backends)
        self._default = default
        self._started: dict[str, asyncio.Task[None]] = {}

    @property
    def default_id(self) -> str:
        return self._default

    @property
    def ids(self) -> list[str]:
        return list(self._backends)

    def resolve(self, model_id: str | None) -> Backend:
        """The backend for ``model_id`` (or the default), without starting it."""
        key = model_id or self._default
        backend = self._backends.get(key)
        if backend is None:
            raise UnknownModel(
                f"the model {key!r} does not exist here; available: {', '.join(self.ids)}",
                param="model",
            )
        return backend

    async def get(self, model_id: str | None) -> Backend:
        """The started backend for ``model_id`` (or the default)."""
        backend = self.resolve(model_id)
        await self._ensure_started(backend)
        return backend

    def is_ready(self, model_id: str | None = None) -> bool:
        task = self._started.get(model_id or self._default)
        return task is not None and task.done() and task.exception() is None

    def start_default(self) -> asyncio.Task[None]:
        """Begin loading the default model in the background; a failure is logged (and
        the next request that needs the model retries it and reports the error)."""
        task = self._start_task(self._backends[self._default])
        task.add_done_callback(_log_failure)
        return task

    async def _ensure_started(self, backend: Backend) -> None:
        task = self._start_task(backend)
        try:
            await asyncio.shield(task)
        except Exception:
            # A failed start is retried by the next request rather than cached forever.
            if self._started.get(backend.model_id) is task:
                del self._started[backend.model_id]
            raise

    def _start_task(self, backend: Backend) -> asyncio.Task[None]:
        task = self._started.get(backend.model_id)
        if task is None:
            task = asyncio.ensure_future(backend.start())
            self._started[backend.model_id] = task
        return task

    async def close(self) -> None:
        for task in self._started.values():
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._started.values(), return_exceptions=True)
        for backend in self._backends.values():
            await backend.close()
