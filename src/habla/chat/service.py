"""ChatService: the one engine behind every channel.

``prepare()`` does everything that can fail because of the request — model and persona
lookup, guards, ownership, the context window — and persists the caller's messages, so a
channel can answer with a proper error before it commits to a response. The returned
:class:`PreparedTurn` then streams the reply through the output guards and, however the
stream ends (finished, cancelled by the client, backend error), stores the reply with
the right status and records usage.

This module does not know about HTTP, Telegram or terminals.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass

from habla.backends.base import Backend, estimate_tokens
from habla.backends.registry import ModelRegistry
from habla.chat.context import Window, fit_window
from habla.chat.metering import Metering
from habla.chat.personas import Personas
from habla.chat.turns import TurnInput, omitted_notice
from habla.core.errors import InvalidRequest, UnsupportedFeature
from habla.core.events import Finished, FinishReason, StreamEvent, TextDelta, Usage
from habla.core.messages import Message
from habla.core.options import ChatRequest, GenerationOptions
from habla.guards.base import GuardContext
from habla.guards.pipeline import GuardPipeline
from habla.limits.base import Admission
from habla.store.base import (
    ConversationRecord,
    ConversationStore,
    StoredMessage,
    UsageRecord,
)

log = logging.getLogger(__name__)

TITLE_CHARS = 60
FLUSH_SECONDS = 2.0  # how often a streaming reply is saved, so a crash loses little


@dataclass(frozen=True, slots=True)
class Defaults:
    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95


class ChatService:
    def __init__(
        self,
        *,
        models: ModelRegistry,
        store: ConversationStore,
        personas: Personas,
        guards: GuardPipeline,
        defaults: Defaults | None = None,
        metering: Metering | None = None,
    ) -> None:
        self.models = models
        self.store = store
        self.personas = personas
        self.guards = guards
        self.defaults = defaults or Defaults()
        self.metering = metering
        self._settling: set[asyncio.Task[Finished]] = set()

    async def prepare(self, turn: TurnInput) -> PreparedTurn:
        conversation, persona, history = await self._history(turn)
        backend = await self.models.get(turn.model or self._conversation_model(conversation))
        options = self._options(turn)
        ctx = GuardContext(turn.user_id, persona, backend.model_id)
        # Checked before the guards: a request that cannot be served must not cost a
        # moderation call to a third party.
        if not backend.capabilities.vision and any(m.has_images for m in turn.messages):
            raise UnsupportedFeature(
                f"the model {backend.model_id} cannot read images; pick a vision model",
                param="messages",
            )
        new_messages = await self.guards.check_input(turn.messages, turn.max_tokens, ctx)
        system_text, new_turn = _split_system(new_messages)
        if not new_turn:
            raise InvalidRequest("there is no user message to answer", param="messages")
        system = Message.of("system", system_text or self.personas.prompt(persona))
        window = await fit_window(
            backend, system, [*history, *new_turn], reply_budget=options.max_tokens
        )
        admission = await self._admit(turn, backend.model_id, window, options.max_tokens)
        conversation_id = conversation.id if conversation is not None else None
        try:
            if turn.store:
                conversation_id = await self._persist_new(
                    turn, conversation_id, persona, backend.model_id, new_turn
                )
        except BaseException:
            if admission is not None and self.metering is not None:
                await self.metering.settle(admission, backend.model_id, Usage())
            raise
        request = ChatRequest(window.messages, options)
        return PreparedTurn(
            self,
            backend,
            request,
            window,
            ctx,
            conversation_id,
            persist=turn.store,
            admission=admission,
        )

    async def _admit(
        self, turn: TurnInput, model_id: str, window: Window, max_tokens: int
    ) -> Admission | None:
        if self.metering is None:
            return None
        return await self.metering.admit(
            turn.principal, model_id, window.prompt_tokens, max_tokens, origin=turn.origin
        )

    def _conversation_model(self, conversation: ConversationRecord | None) -> str | None:
        """A continued conversation keeps its model while this server still serves it."""
        if conversation is not None and conversation.model in self.models.ids:
            return conversation.model
        return None

    def _options(self, turn: TurnInput) -> GenerationOptions:
        d = self.defaults
        return GenerationOptions(
            max_tokens=turn.max_tokens if turn.max_tokens is not None else d.max_tokens,
            temperature=turn.temperature if turn.temperature is not None else d.temperature,
            top_p=turn.top_p if turn.top_p is not None else d.top_p,
            stop=turn.stop,
            seed=turn.seed,
        )

    async def _history(
        self, turn: TurnInput
    ) -> tuple[ConversationRecord | None, str, list[Message]]:
        if turn.conversation_id is None:
            persona = turn.persona or "default"
            self.personas.prompt(persona)  # unknown persona -> error before anything else
            return None, persona, []
        conversation = await self.store.get_conversation(turn.conversation_id, user_id=turn.user_id)
        persona = turn.persona or conversation.persona
        self.personas.prompt(persona)
        stored = await self.store.list_messages(conversation.id, user_id=turn.user_id)
        # Replies cut short still happened; an empty one (failed before any text) did not.
        history = [s.message for s in stored if s.message.text or s.message.has_images]
        return conversation, persona, history

    async def _persist_new(
        self,
        turn: TurnInput,
        conversation_id: str | None,
        persona: str,
        model_id: str,
        new_turn: tuple[Message, ...],
    ) -> str:
        if conversation_id is None:
            first_text = next((m.text for m in new_turn if m.role == "user"), "")
            conversation = await self.store.create_conversation(
                user_id=turn.user_id,
                persona=persona,
                model=model_id,
                title=_title(first_text),
            )
            conversation_id = conversation.id
        for message in new_turn:
            await self.store.append_message(conversation_id, message, user_id=turn.user_id)
        return conversation_id

    # Conversations, for channels: every call is scoped to the user asking.

    async def list_conversations(self, user_id: str, limit: int = 50) -> list[ConversationRecord]:
        return await self.store.list_conversations(user_id=user_id, limit=limit)

    async def conversation(
        self, conversation_id: str, user_id: str
    ) -> tuple[ConversationRecord, list[StoredMessage]]:
        record = await self.store.get_conversation(conversation_id, user_id=user_id)
        return record, await self.store.list_messages(conversation_id, user_id=user_id)

    async def rename_conversation(
        self, conversation_id: str, user_id: str, title: str
    ) -> ConversationRecord:
        return await self.store.rename_conversation(conversation_id, user_id=user_id, title=title)

    async def delete_conversation(self, conversation_id: str, user_id: str) -> None:
        await self.store.delete_conversation(conversation_id, user_id=user_id)

    def _keep_until_done(self, task: asyncio.Task[Finished]) -> None:
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def drain(self) -> None:
        """Wait for replies being saved after their stream ended (used at shutdown)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)


class PreparedTurn:
    """A turn that passed every check; iterate :meth:`stream` once to generate."""

    def __init__(
        self,
        service: ChatService,
        backend: Backend,
        request: ChatRequest,
        window: Window,
        ctx: GuardContext,
        conversation_id: str | None,
        *,
        persist: bool,
        admission: Admission | None = None,
    ) -> None:
        self._service = service
        self._persist = persist
        self.admission = admission
        self._backend = backend
        self.request = request
        self.window = window
        self._ctx = ctx
        self.conversation_id = conversation_id
        self.started = time.monotonic()

    @property
    def model_id(self) -> str:
        return self._backend.model_id

    @property
    def omitted_turns(self) -> int:
        return self.window.omitted_turns

    @property
    def notice(self) -> str | None:
        return omitted_notice(self.window.omitted_turns)

    @property
    def guard_flags(self) -> tuple[str, ...]:
        """Ids of the rules that flagged this turn (it proceeded anyway)."""
        return tuple(self._ctx.flags)

    async def stream(self) -> AsyncIterator[StreamEvent]:
        """Text deltas, then one :class:`Finished` with the usage as recorded."""
        store = self._service.store
        user_id = self._ctx.user_id
        reply_id: str | None = None
        if self._persist and self.conversation_id is not None:
            placeholder = Message.of("assistant", "")
            stored = await store.append_message(
                self.conversation_id,
                placeholder,
                user_id=user_id,
                status="incomplete",
                model=self.model_id,
            )
            reply_id = stored.id
        produced: list[str] = []
        finished: Finished | None = None
        abort_reason: FinishReason = "cancelled"
        last_flush = time.monotonic()
        events = self._service.guards.guard_output(self._backend.stream(self.request), self._ctx)
        try:
            async for event in events:
                if isinstance(event, Finished):
                    finished = event
                    break
                produced.append(event.text)
                yield event
                if reply_id is not None and time.monotonic() - last_flush > FLUSH_SECONDS:
                    last_flush = time.monotonic()
                    await store.update_message_text(
                        reply_id, user_id=user_id, text="".join(produced), status="incomplete"
                    )
            if finished is not None:
                finished = await self._settle_in_background(reply_id, produced, finished)
                yield finished
        except Exception:
            abort_reason = "error"
            raise
        finally:
            await _aclose(events)
            if finished is None:
                # Output guards: text checked but still held back was produced all the same.
                produced.append(getattr(events, "held", ""))
                aborted = Finished(abort_reason, Usage())
                await self._settle_in_background(reply_id, produced, aborted)

    async def _settle_in_background(
        self, reply_id: str | None, produced: list[str], finished: Finished
    ) -> Finished:
        # Shielded: a client that disconnects must not stop the partial reply being saved.
        task = asyncio.ensure_future(self._settle(reply_id, "".join(produced), finished))
        self._service._keep_until_done(task)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            return Finished("cancelled", Usage())

    async def _settle(self, reply_id: str | None, text: str, finished: Finished) -> Finished:
        reason, usage = finished.finish_reason, finished.usage
        if usage.total_tokens == 0:
            usage = Usage(self.window.prompt_tokens, estimate_tokens(text))
        try:
            await self._store_outcome(reply_id, text, reason, usage)
        finally:
            metering = self._service.metering
            if self.admission is not None and metering is not None:
                await metering.settle(self.admission, self.model_id, usage)
        return Finished(reason, usage)

    async def _store_outcome(
        self, reply_id: str | None, text: str, reason: FinishReason, usage: Usage
    ) -> None:
        store = self._service.store
        complete = reason in ("stop", "length", "content_filter")
        if reply_id is not None:
            await store.update_message_text(
                reply_id,
                user_id=self._ctx.user_id,
                text=text,
                status="complete" if complete else "incomplete",
            )
        latency_ms = int((time.monotonic() - self.started) * 1000)
        await store.record_usage(
            UsageRecord(
                self._ctx.user_id, self.conversation_id, self.model_id, usage, latency_ms, reason
            )
        )
        if not complete:
            log.info("reply %s ended early (%s); stored as incomplete", reply_id, reason)


async def collect_reply(prepared: PreparedTurn) -> tuple[str, Finished]:
    """The non-streaming path for channels: the whole reply and how it finished."""
    parts: list[str] = []
    finished: Finished | None = None
    async for event in prepared.stream():
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            finished = event
    assert finished is not None  # stream() always ends with Finished or raises
    return "".join(parts), finished


def _split_system(messages: tuple[Message, ...]) -> tuple[str | None, tuple[Message, ...]]:
    system = [m.text for m in messages if m.role == "system"]
    rest = tuple(m for m in messages if m.role != "system")
    return ("\n\n".join(system) if system else None), rest


def _title(text: str) -> str:
    # Control characters (NUL among them, which PostgreSQL text cannot hold) never make
    # a useful title.
    printable = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace())
    line = " ".join(printable.split()) or "New conversation"
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
