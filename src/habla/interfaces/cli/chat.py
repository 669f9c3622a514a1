"""``habla chat``: a streaming chat REPL in the terminal, on the same engine as the API.

Commands: ``/new`` starts a new conversation, ``/persona NAME`` and ``/model ID`` switch
for the following turns, ``/help`` lists them, ``/exit`` (or end of input) leaves.
History lives in the store, so ``--conversation ID`` picks a chat up again later.
Ctrl-C during a reply stops the reply, not the program.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TextIO

from habla.chat.turns import TurnInput
from habla.core.errors import HablaError
from habla.core.events import Finished, StreamEvent, TextDelta
from habla.core.identity import LOCAL_PRINCIPAL
from habla.core.messages import Message
from habla.runtime import Runtime
from habla.settings import Settings

HELP = """commands:
  /new            start a new conversation
  /persona NAME   switch persona ({personas})
  /model ID       switch model ({models})
  /help           this help
  /exit           leave (Ctrl-D works too)"""


@dataclass
class ChatOptions:
    model: str | None = None
    persona: str | None = None
    conversation_id: str | None = None
    max_tokens: int | None = None


class ChatRepl:
    def __init__(self, runtime: Runtime, options: ChatOptions, out: TextIO = sys.stdout) -> None:
        self.runtime = runtime
        self.state = options
        self.out = out

    def say(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    async def run(self) -> int:
        self.say(
            f"habla chat — model {self.state.model or self.runtime.models.default_id}. "
            "Type /help for commands."
        )
        while True:
            line = await asyncio.to_thread(_read_line, "you> ")
            if line is None:
                self.say()
                return 0
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return 0
                continue
            try:
                await self.reply(line)
            except HablaError as exc:
                self.say(f"\n[error] {exc.message}")

    def command(self, line: str) -> bool:
        """Handles a slash command; False means leave."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/new":
            self.state.conversation_id = None
            self.say("[new conversation]")
        elif name == "/persona" and arg:
            try:
                self.runtime.chat.personas.prompt(arg)
            except HablaError as exc:
                self.say(f"[error] {exc.message}")
            else:
                self.state.persona = arg
                self.say(f"[persona: {arg}]")
        elif name == "/model" and arg:
            if arg in self.runtime.models.ids:
                self.state.model = arg
                self.say(f"[model: {arg}]")
            else:
                self.say(
                    f"[error] unknown model {arg!r}; available: "
                    + ", ".join(self.runtime.models.ids)
                )
        else:
            self.say(
                HELP.format(
                    personas=", ".join(self.runtime.chat.personas.names),
                    models=", ".join(self.runtime.models.ids),
                )
            )
        return True

    async def reply(self, text: str) -> None:
        turn = TurnInput(
            principal=LOCAL_PRINCIPAL,
            messages=(Message.of("user", text),),
            conversation_id=self.state.conversation_id,
            persona=self.state.persona,
            model=self.state.model,
            max_tokens=self.state.max_tokens,
            origin="terminal",
        )
        prepared = await self.runtime.chat.prepare(turn)
        self.state.conversation_id = prepared.conversation_id
        if prepared.notice:
            self.say(f"[{prepared.notice}]")
        self.say("bot> ", end="")
        task = asyncio.ensure_future(self._print_stream(prepared.stream()))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, task.cancel)  # Ctrl-C stops the reply
        try:
            finished = await task
        except asyncio.CancelledError:
            self.say("\n[stopped]")
            return
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        self.say()
        if finished is not None and finished.finish_reason == "length":
            self.say("[the reply reached its token limit]")

    async def _print_stream(self, events: AsyncIterator[StreamEvent]) -> Finished | None:
        finished: Finished | None = None
        async for event in events:
            if isinstance(event, TextDelta):
                self.say(event.text, end="")
            elif isinstance(event, Finished):
                finished = event
        return finished


def _read_line(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


async def run_chat(settings: Settings, options: ChatOptions) -> int:
    async with Runtime.open(settings) as runtime:
        await runtime.models.get(options.model)  # load before the first prompt
        return await ChatRepl(runtime, options).run()
