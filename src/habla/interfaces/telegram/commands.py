"""The bot's slash commands: /start /help /new /persona /model /usage /link.

Each command answers with one short text in the user's language. ``/link`` is the only
command a stranger may use (it is how a stranger becomes a user); the others need a
principal. Model and persona names are checked against what this server serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from habla.core.errors import RateLimited
from habla.core.identity import Principal
from habla.interfaces.telegram.incoming import Incoming
from habla.interfaces.telegram.texts import Texts
from habla.limits.base import Meter
from habla.runtime import Runtime
from habla.runtime.telegram import TelegramServices

Say = Callable[[Incoming, str], Awaitable[None]]


class Commands:
    def __init__(self, runtime: Runtime, services: TelegramServices, say: Say) -> None:
        self._runtime = runtime
        self._access = services.access
        self._chats = services.chats
        self._say = say

    async def link(self, incoming: Incoming, texts: Texts) -> None:
        if not incoming.argument:
            await self._say(incoming, texts.link_usage)
            return
        try:
            user = await self._access.redeem(incoming.who, incoming.argument)
        except RateLimited as exc:
            await self._say(incoming, texts.link_throttled.format(when=texts.wait(exc.retry_after)))
            return
        if user is None:
            await self._say(incoming, texts.link_failed)
            return
        # The chat now speaks for another principal: its history starts afresh.
        await self._chats.new_conversation(incoming.chat_id, incoming.who.telegram_id)
        await self._say(incoming, texts.linked.format(name=user.name))

    async def run(self, incoming: Incoming, principal: Principal, texts: Texts) -> None:
        name, argument = incoming.command, incoming.argument
        chat_id, telegram_id = incoming.chat_id, incoming.who.telegram_id
        if name == "new":
            await self._chats.new_conversation(chat_id, telegram_id)
            await self._say(incoming, texts.new)
        elif name == "persona":
            await self._persona(incoming, argument, texts)
        elif name == "model":
            await self._model(incoming, argument, texts)
        elif name == "usage":
            await self._say(incoming, await self._usage(principal, texts))
        elif name == "start":
            await self._say(incoming, f"{texts.welcome}\n\n{self._help(texts)}")
        else:
            await self._say(incoming, self._help(texts))

    def _help(self, texts: Texts) -> str:
        return texts.help.format(
            personas=", ".join(self._runtime.chat.personas.names),
            models=", ".join(self._runtime.models.ids),
        )

    async def _persona(self, incoming: Incoming, name: str, texts: Texts) -> None:
        names = self._runtime.chat.personas.names
        if not name:
            state = await self._chats.current(incoming.chat_id, incoming.who.telegram_id)
            current = state.persona or "default"
            await self._say(
                incoming, texts.persona_list.format(name=current, names=", ".join(names))
            )
        elif name not in names:
            await self._say(
                incoming, texts.persona_unknown.format(name=name[:64], names=", ".join(names))
            )
        else:
            await self._chats.choose(incoming.chat_id, incoming.who.telegram_id, persona=name)
            await self._say(incoming, texts.persona_set.format(name=name))

    async def _model(self, incoming: Incoming, name: str, texts: Texts) -> None:
        ids = self._runtime.models.ids
        if name not in ids:
            await self._say(
                incoming, texts.model_unknown.format(name=name[:64], names=", ".join(ids))
            )
            return
        await self._chats.choose(incoming.chat_id, incoming.who.telegram_id, model=name)
        await self._say(incoming, texts.model_set.format(name=name))

    async def _usage(self, principal: Principal, texts: Texts) -> str:
        metering = self._runtime.chat.metering
        if metering is None:
            return f"{texts.usage_title} {texts.unlimited}"
        snapshot = await metering.snapshot(principal)
        meters: tuple[Meter[int] | Meter[float], ...] = (
            snapshot.requests,
            snapshot.tokens_day,
            snapshot.tokens_month,
            snapshot.cost_day,
            snapshot.cost_month,
        )
        lines = [texts.usage_title]
        for label, meter in zip(texts.usage_labels, meters, strict=True):
            if meter.limit is None:
                lines.append(f"{label}: {_number(meter.used)} ({texts.unlimited})")
            else:
                lines.append(
                    texts.usage_line.format(
                        label=label,
                        used=_number(meter.used),
                        limit=_number(meter.limit),
                        remaining=_number(meter.remaining if meter.remaining is not None else 0),
                        when=texts.wait(meter.reset_seconds),
                    )
                )
        return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
