"""Turning reply text into Telegram messages: split at 4096, render as escaped HTML.

:func:`split_message` cuts a long reply into pieces Telegram accepts (its limit counts
UTF-16 code units), preferring a paragraph break, then a line break, then a space, and
never cutting a surrogate pair. Splitting happens on the raw text, *before* escaping, so
no cut can land inside an HTML entity; and rendering only ever removes characters
(markdown markers), so a rendered piece is never longer than its raw piece.

:func:`to_html` escapes everything and turns the few markdown forms models use most
(fenced code, ``inline code``, ``**bold**``) into Telegram HTML. Anything unmatched stays
literal text. This module does not talk to Telegram.
"""

from __future__ import annotations

import html
import re

TELEGRAM_LIMIT = 4096

_MARKUP = re.compile(
    r"```[\w+#.-]*\n?(?P<pre>.*?)```|`(?P<code>[^`\n]+)`|\*\*(?P<bold>[^*\n]+)\*\*", re.S
)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fits(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units whose concatenation, modulo the
    whitespace at each cut, is ``text``. The result is stable as ``text`` grows: a full
    piece never changes when more text is appended (streaming relies on that)."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = rest[: _fits(rest, limit)]
        cut = _best_cut(window)
        piece = window[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces


def _best_cut(window: str) -> int:
    floor = len(window) // 2  # a cut in the first half wastes too much of a message
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > floor:
            return at + len(separator)
    return len(window)


def to_html(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _MARKUP.finditer(text):
        out.append(_escape(text[position : match.start()]))
        if match.group("pre") is not None:
            out.append(f"<pre>{_escape(match.group('pre'))}</pre>")
        elif match.group("code") is not None:
            out.append(f"<code>{_escape(match.group('code'))}</code>")
        else:
            out.append(f"<b>{_escape(match.group('bold'))}</b>")
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
