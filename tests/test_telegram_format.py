"""Splitting replies at Telegram's 4096 limit and rendering them as escaped HTML."""

from __future__ import annotations

import pytest

from fakes.telegram_server import visible_text
from habla.interfaces.telegram.formatting import split_message, to_html, utf16_len


def test_short_text_is_one_piece() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == [""]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aaaa bbbb\n\ncccc dddd", ["aaaa bbbb", "cccc dddd"]),  # paragraph first
        ("aaaa bbbb\ncccc dddd", ["aaaa bbbb", "cccc dddd"]),  # then a line
        ("aaaa bbbb cccc dddd", ["aaaa bbbb cccc", "dddd"]),  # then a word
        ("abcdefghijklmnopqrst", ["abcdefghijklmnopq", "rst"]),  # hard cut, no space
    ],
)
def test_cuts_prefer_paragraphs_then_lines_then_words(text: str, expected: list[str]) -> None:
    assert split_message(text, limit=17) == expected


def test_limit_counts_utf16_units_and_never_splits_a_surrogate_pair() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units
    pieces = split_message(text)
    assert [utf16_len(p) for p in pieces] == [4096, 6000 - 4096]
    assert "".join(pieces) == text


def test_pieces_do_not_change_as_text_grows() -> None:
    text = " ".join(f"w{i}" for i in range(3000))
    full = split_message(text)
    for end in range(4200, len(text), 997):
        prefix = split_message(text[:end])
        assert prefix[:-1] == full[: len(prefix) - 1]


def test_html_is_escaped_and_common_markdown_rendered() -> None:
    rendered = to_html('a <b> & "q" **bold** `x<y` ```py\nif a<b:\n    pass\n``` **open')
    assert rendered == (
        'a &lt;b&gt; &amp; "q" <b>bold</b> <code>x&lt;y</code> '
        "<pre>if a&lt;b:\n    pass\n</pre> **open"
    )
    shown, error = visible_text(rendered, "HTML")
    assert error is None
    assert shown.startswith('a <b> & "q" bold x<y if a<b:')


def test_every_split_piece_renders_to_valid_html_within_the_limit() -> None:
    text = ("x & y < z " * 600) + "**bold** " * 200
    for piece in split_message(text):
        shown, error = visible_text(to_html(piece), "HTML")
        assert error is None
        assert utf16_len(shown) <= 4096
