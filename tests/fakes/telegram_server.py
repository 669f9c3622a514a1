"""A fake Telegram Bot API server on 127.0.0.1, for tests of the Telegram channel.

It speaks real HTTP the way ``api.telegram.org`` does — ``/bot<TOKEN>/<method>`` with
form or JSON bodies, answers ``{"ok": true, "result": ...}`` or Telegram's error shapes —
so python-telegram-bot runs unmodified against it (``base_url``). Served methods:
``getMe``, ``getUpdates`` (long poll), ``sendMessage``, ``editMessageText``,
``sendChatAction``, ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``, ``getFile``
and file downloads under ``/file/bot<TOKEN>/<path>``. Like Telegram it refuses a wrong
token (401), HTML it cannot parse (400 "can't parse entities"), text over 4096 UTF-16
units (400 "message is too long"), an edit that changes nothing (400 "message is not
modified"), and ``getUpdates`` while a webhook is set (409).

Tests drive it from Python (thread-safe; the server runs its own loop in a thread)::

    with FakeTelegram() as tg:
        tg.user_message("hello", user_id=7)            # queue an update for getUpdates
        tg.fail_next("sendMessage", 429, retry_after=1)  # the next sendMessage fails so
        await tg.wait_for(lambda: tg.texts(7))          # bounded wait on what was sent
        tg.calls("editMessageText")                     # every call's parameters

It is not Telegram: no rate limiting of its own, no inline keyboards, no media uploads.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servers import ThreadedServer

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijklm"
BOT_ID = 4242
BOT_USERNAME = "habla_test_bot"
MAX_POLL_SECONDS = 5.0
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a",
                 "tg-spoiler", "span", "blockquote"}  # fmt: skip
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


@dataclass(frozen=True)
class Failure:
    status: int
    description: str
    retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: can't parse entities: Can't find end of the entity starting at byte "
    "offset 0",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests: retry after {retry_after}",
}


class _HtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = f'Can\'t find end tag corresponding to start tag "{tag}"'

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(text: str, parse_mode: str | None) -> tuple[str, str | None]:
    """The text a user would see, and Telegram's parse error if any."""
    if parse_mode is None or parse_mode.upper() != "HTML":
        return text, None
    for match in re.finditer(r"&[^;\s]*;?", text):
        if not _ENTITY.fullmatch(match.group()):
            return text, "can't parse entities: Unsupported HTML entity"
    check = _HtmlCheck()
    check.feed(text)
    check.close()
    if check.error is None and check.stack:
        check.error = f'Can\'t find end tag corresponding to start tag "{check.stack[-1]}"'
    if check.error is not None:
        return text, f"can't parse entities: {check.error}"
    return "".join(check.text), None  # convert_charrefs decoded the entities


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram(ThreadedServer):
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self._lock = threading.Lock()
        self._updates: deque[dict[str, Any]] = deque()
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._messages: dict[tuple[int, int], str] = {}  # (chat, message id) -> text now
        self._order: list[tuple[int, int]] = []
        self._files: dict[str, bytes] = {}
        self._ids = itertools.count(1000)
        self._update_ids = itertools.count(1)
        self.webhook: dict[str, Any] | None = None
        super().__init__(self._app())  # url, start and stop: ThreadedServer's

    # -- control API (any thread) --------------------------------------------------------

    def push(self, update: dict[str, Any]) -> None:
        with self._lock:
            self._updates.append(update)

    def user_message(
        self,
        text: str | None = None,
        *,
        user_id: int = 7,
        username: str | None = "ana_tg",
        language: str = "en",
        chat_id: int | None = None,
        chat_type: str = "private",
        update_id: int | None = None,
        reply_to_bot: bool = False,
        photo_file_id: str | None = None,
        caption: str | None = None,
        queue: bool = True,
    ) -> dict[str, Any]:
        """Builds (and by default queues) an update carrying one user message."""
        chat = chat_id if chat_id is not None else user_id
        sender = {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": language}
        if username:
            sender["username"] = username
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat, "type": chat_type},
            "from": sender,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if photo_file_id is not None:
            message["photo"] = [
                {"file_id": photo_file_id, "file_unique_id": photo_file_id + "u",
                 "width": 90, "height": 90, "file_size": len(self._files.get(photo_file_id, b""))}
            ]  # fmt: skip
            if caption is not None:
                message["caption"] = caption
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": chat, "type": chat_type},
                "from": self.me(),
                "text": "earlier answer",
            }
        update = {"update_id": update_id or next(self._update_ids) + 500, "message": message}
        if queue:
            self.push(update)
        return update

    def add_file(self, data: bytes) -> str:
        file_id = f"file{next(self._ids)}"
        with self._lock:
            self._files[file_id] = data
        return file_id

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        """The next call of ``method`` fails with Telegram's error shape for ``status``."""
        text = description or DEFAULT_DESCRIPTIONS[status].format(retry_after=retry_after)
        with self._lock:
            self._failures[method].append(Failure(status, text, retry_after))

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self._calls if method in (None, name)]

    def texts(self, chat_id: int) -> list[str]:
        """The bot's messages in a chat as they read now (after edits), oldest first."""
        with self._lock:
            return [self._messages[key] for key in self._order if key[0] == chat_id]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"not met within {timeout} s; last calls: {self.calls()[-5:]}"[:3000])

    @staticmethod
    def me() -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Habla",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- the HTTP side -------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(Failure(401, "Unauthorized").body(), status_code=401)
        with self._lock:
            data = self._files.get(request.path_params["path"].rsplit("/", 1)[-1])
        if data is None:
            return JSONResponse(Failure(404, "Not Found").body(), status_code=404)
        return Response(data, media_type="image/jpeg")

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(Failure(401, "Unauthorized").body(), status_code=401)
        method = request.path_params["method"]
        params = await _params(request)
        with self._lock:
            self._calls.append((method, params))
            failures = self._failures.get(method)
            failure = failures.popleft() if failures else None
        if failure is not None:
            return JSONResponse(failure.body(), status_code=failure.status)
        handler = getattr(self, f"_do_{method}", None)
        if handler is None:
            return JSONResponse(Failure(404, "Not Found").body(), status_code=404)
        result = await handler(params)
        if isinstance(result, Failure):
            return JSONResponse(result.body(), status_code=result.status)
        return JSONResponse({"ok": True, "result": result})

    async def _do_getMe(self, params: dict[str, Any]) -> Any:
        return self.me()

    async def _do_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            return Failure(409, "Conflict: can't use getUpdates method while webhook is active")
        wait = min(float(params.get("timeout", 0) or 0), MAX_POLL_SECONDS)
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                if self._updates:
                    batch = list(self._updates)
                    self._updates.clear()
                    return batch
            if time.monotonic() >= deadline:
                return []
            await asyncio.sleep(0.01)

    async def _do_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        shown, error = visible_text(str(params.get("text", "")), params.get("parse_mode"))
        if error is not None:
            return Failure(400, f"Bad Request: {error}")
        if not shown.strip():
            return Failure(400, "Bad Request: message text is empty")
        if utf16_len(shown) > 4096:
            return Failure(400, "Bad Request: message is too long")
        message_id = next(self._ids)
        with self._lock:
            self._messages[(chat_id, message_id)] = shown
            self._order.append((chat_id, message_id))
        return self._message(chat_id, message_id, shown)

    async def _do_editMessageText(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        shown, error = visible_text(str(params.get("text", "")), params.get("parse_mode"))
        if error is not None:
            return Failure(400, f"Bad Request: {error}")
        if utf16_len(shown) > 4096:
            return Failure(400, "Bad Request: message is too long")
        with self._lock:
            if (chat_id, message_id) not in self._messages:
                return Failure(400, "Bad Request: message to edit not found")
            if self._messages[(chat_id, message_id)] == shown:
                return Failure(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            self._messages[(chat_id, message_id)] = shown
        return self._message(chat_id, message_id, shown)

    async def _do_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    async def _do_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = dict(params)
        return True

    async def _do_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _do_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        url = self.webhook.get("url", "") if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    async def _do_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        with self._lock:
            data = self._files.get(file_id)
        if data is None:
            return Failure(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": file_id + "u",
            "file_size": len(data),
            "file_path": f"photos/{file_id}",
        }

    @staticmethod
    def _message(chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": FakeTelegram.me(),
            "text": text,
        }


async def _params(request: Request) -> dict[str, Any]:
    """Form (what python-telegram-bot sends), JSON, or the query string; nested values
    arrive JSON-encoded inside form fields, as with the real API."""
    content_type = request.headers.get("content-type", "")
    params: dict[str, Any] = dict(request.query_params)
    if "json" in content_type:
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif "form" in content_type:
        form = await request.form()
        for key, value in form.items():
            params[key] = value if isinstance(value, str) else await value.read()
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params
