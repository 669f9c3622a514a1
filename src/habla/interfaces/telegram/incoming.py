"""Reading an incoming Telegram update: who sent it, what they said, whether it is for us.

Pure functions over python-telegram-bot objects; no I/O. In a group the bot answers only
when addressed: mentioned by ``@username``, replied to, or given a command (plain, or
``/cmd@thisbot``). The mention is removed from the text the model sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, User

from habla.auth.telegram_access import TelegramUser

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+(.*))?$", re.S)


@dataclass(frozen=True, slots=True)
class Incoming:
    who: TelegramUser
    language: str | None
    chat_id: int
    message_id: int
    private: bool
    text: str  # mention removed; the caption for a photo
    command: str | None  # "new", "persona", ... lowercase, without "/"
    argument: str
    has_photo: bool
    unsupported: bool  # a sticker, voice note, document...: nothing we can read


def read(message: Message, bot: User) -> Incoming | None:
    """None when the message is not for us (a group message not addressed to the bot,
    a message without a sender, a service message)."""
    sender = message.from_user
    if sender is None or sender.is_bot:
        return None
    raw = message.text if message.text is not None else (message.caption or "")
    private = message.chat.type == "private"
    command, argument, addressed = _command(raw, bot.username)
    if not private and not (
        addressed or _mentioned(raw, bot.username) or _replied_to(message, bot)
    ):
        return None
    text = raw if command is None else ""
    if bot.username:
        text = re.sub(rf"@{re.escape(bot.username)}\b", "", text, flags=re.I).strip()
    has_photo = bool(message.photo)
    unsupported = not raw.strip() and not has_photo
    if unsupported and not _has_content(message):
        return None
    return Incoming(
        who=TelegramUser(sender.id, sender.username),
        language=sender.language_code,
        chat_id=message.chat.id,
        message_id=message.message_id,
        private=private,
        text=text,
        command=command,
        argument=argument,
        has_photo=has_photo,
        unsupported=unsupported,
    )


def _command(text: str, bot_name: str | None) -> tuple[str | None, str, bool]:
    match = _COMMAND.match(text.strip())
    if match is None:
        return None, "", False
    name, target, argument = match.group(1), match.group(2), match.group(3) or ""
    if target is not None and (bot_name is None or target.casefold() != bot_name.casefold()):
        return None, "", False  # a command for another bot in the same group
    return name.lower(), argument.strip(), True


def _mentioned(text: str, bot_name: str | None) -> bool:
    return bot_name is not None and f"@{bot_name.casefold()}" in text.casefold()


def _replied_to(message: Message, bot: User) -> bool:
    original = message.reply_to_message
    return (
        original is not None and original.from_user is not None and original.from_user.id == bot.id
    )


def _has_content(message: Message) -> bool:
    """Stickers, voice, documents...: something a person sent, that we cannot read."""
    return any(
        getattr(message, kind, None) is not None
        for kind in ("sticker", "voice", "audio", "document", "video", "video_note", "animation")
    )
