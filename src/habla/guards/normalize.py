"""Input normalisation: what a check should look at, never what the model gets.

:func:`clean` is the canonical form of a message: NFKC, with zero-width characters, Unicode
tag characters (U+E0000–E007F) and bidi controls removed. :func:`views` then derives the
*views* a rule-based check inspects — the cleaned text case-folded without accents, plus
the obvious obfuscations decoded: base64 and hex runs, rot13, leetspeak and look-alike
letters folded, spaced-out letters joined, and ASCII smuggled in tag characters.

It does not decide anything and does not change the message: the model still receives the
user's own text. Every view is bounded (:data:`MAX_DECODED_RUNS` decoded runs, each at most
:data:`MAX_RUN_CHARS`), and every regex here is linear, so a hostile message cannot make
normalisation slow.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

# Zero-width and invisible formatting characters that split words without showing.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f"
# Bidi embeddings, overrides, isolates and marks: they reorder what a reader sees.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_TAG_FIRST = 0xE0000
# One character class for everything dropped (plus variation selectors and the tag block):
# a regex substitution is much faster than str.translate with a dict on long text.
_DROP = re.compile(f"[{_ZERO_WIDTH}{_BIDI}\ufe00-\ufe0f\U000e0000-\U000e007f]")
_TAG_CHARS = re.compile("[\U000e0020-\U000e007e]")
_COMBINING = re.compile("[\u0300-\u036f]")  # the accents NFKD splits off Latin letters

# Letters from other scripts that look like Latin ones (the usual homoglyph swaps), and
# leetspeak digits/symbols. Only applied to the "folded" view, where a false fold costs
# nothing but a rule looking at a slightly odd string.
_FOLD_LOOKALIKES = str.maketrans(
    "аеорсухкмтвнійјѕԁɡαεορτυνκχ0134578@$!|+",
    "aeopcyxkmtbhiijsdgaeoptuvkxoieastbasilt",
)
_LOOKALIKE_SCRIPTS = re.compile("[\u0370-\u03ff\u0400-\u052f\u0261]")

MAX_DECODED_RUNS = 8
MAX_RUN_CHARS = 4096
_LONG_TOKEN = re.compile(r"\S{16,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:0x)?(?:[0-9a-fA-F]{2}){8,}")
_BASE32 = re.compile(r"[A-Z2-7]{16,}={0,6}")
_BASE85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{24,}")
_HEX_RUN = re.compile(r"(?:(?:\\x|0x)?[0-9a-fA-F]{2}[\s:,]?){8,}")
_ASCII85_RUN = re.compile(r"<~[!-u\s]{8,}~>")
_BINARY_RUN = re.compile(r"(?:[01]{8}[\s,]?){4,}")
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){4,}")
_MORSE_RUN = re.compile(r"(?:[.\-]{1,7}(?: / | {1,3}|$)){6,}")
_MORSE_CODES = (
    ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- "
    "...- .-- -..- -.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----."
)
_MORSE = dict(zip(_MORSE_CODES.split(), "abcdefghijklmnopqrstuvwxyz0123456789", strict=True))
# Three or more letters separated by one space, dot, dash, underscore...: "i g n o r e".
_SPACED = re.compile(r"\b(?:\w[ .\-_*/|]){2,}\w\b")
_SPACED_SEPARATORS = re.compile(r"[ .\-_*/|]")
_WHITESPACE = re.compile(r"\s+")
ALWAYS_ALL_VIEWS_CHARS = 600
SPAN_CONTEXT_CHARS = 200
_LEET_INSIDE = re.compile(r"[a-z][0134578@$!|+][a-z]|\b[0134578@$][a-z]{2}")
# "the", "and", "of", "to", "you", "de", "la", "que", "el" after rot13 / written backwards.
_ENCODED_HINTS = re.compile(r"\b(?:gur|naq|bs|gb|lbh|qr|yn|dhr|ry)\b")
_BACKWARDS_HINTS = re.compile(r"\b(?:eht|dna|fo|ot|uoy|ed|al|euq|le)\b")


@dataclass(frozen=True, slots=True)
class Views:
    """The cleaned text and the views derived from it, each already lower-case."""

    cleaned: str
    views: tuple[str, ...]
    smuggled: str = ""  # ASCII hidden in Unicode tag characters, if any
    plain: tuple[str, ...] = ()  # the views that are not speculative decodings (see views)


def clean(text: str) -> str:
    """NFKC, then drop zero-width, tag and bidi characters."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text))


def fold(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: the base view rules match."""
    folded = text.casefold()
    if not folded.isascii():
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded))
    return _WHITESPACE.sub(" ", folded).strip()


def views(text: str) -> Views:
    """Every view of ``text`` a check should inspect (duplicates removed, order kept)."""
    cleaned = clean(text)
    base = fold(cleaned)
    found = [base]
    # The views that are the text, or a decoding of it that evidently applies: what a
    # classifier scores. Rules also get the speculative ones (every short text rot13'd and
    # reversed), where a match is evidence; a classifier would only see gibberish there.
    plain = [base]
    smuggled = _tag_payload(text)
    if smuggled:
        found.append(fold(smuggled))
        plain.append(found[-1])
    short = len(base) <= ALWAYS_ALL_VIEWS_CHARS
    disguised = bool(_LEET_INSIDE.search(base) or _LOOKALIKE_SCRIPTS.search(base))
    if short or disguised:
        found.append(base.translate(_FOLD_LOOKALIKES))
        if disguised:
            plain.append(found[-1])
    joined = [fold(span) for span in _joined_spans(cleaned)]
    found.extend(joined)
    plain.extend(joined)
    # A long text gets the rot13 and backwards views only when it looks written that way
    # (its common words show up encoded): each view is one more pass of every rule.
    for hints, decode in ((_ENCODED_HINTS, _rot13), (_BACKWARDS_HINTS, _backwards)):
        hinted = bool(hints.search(base))
        if short or hinted:
            found.append(decode(base))
            if hinted:
                plain.append(found[-1])
    decoded = [fold(run) for run in _decoded_runs(cleaned)]
    found.extend(decoded)
    plain.extend(decoded)
    return Views(
        cleaned,
        tuple(dict.fromkeys(v for v in found if v)),
        smuggled,
        tuple(dict.fromkeys(v for v in plain if v)),
    )


def _rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def _backwards(text: str) -> str:
    return text[::-1]


def _tag_payload(text: str) -> str:
    """ASCII hidden as Unicode tag characters (U+E0020–E007E map to ' '–'~')."""
    if text.isascii() or not _TAG_CHARS.search(text):
        return ""
    return "".join(chr(ord(ch) - _TAG_FIRST) for ch in _TAG_CHARS.findall(text))


def _joined_spans(text: str) -> list[str]:
    """Spaced-out words joined ("i g n o r e" -> "ignore"), each with the text around it.

    Joined before whitespace collapses, so "i g n o r e  a l l" keeps its word break; only
    the neighbourhood of each run is returned, so ordinary text is not scanned twice.
    """
    spans: list[str] = []
    for match in _SPACED.finditer(text):
        if len(spans) >= MAX_DECODED_RUNS:
            break
        start, end = match.span()
        run = _SPACED.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), match.group(0))
        before = text[max(0, start - SPAN_CONTEXT_CHARS) : start]
        after = text[end : end + SPAN_CONTEXT_CHARS]
        # A run that continues into the next one ("p r e v  i o u s") joins up as well.
        after = _SPACED.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), after)
        spans.append(before + run + after)
    return spans


def _decoded_runs(text: str) -> list[str]:
    """Decoded obfuscations, at most :data:`MAX_DECODED_RUNS`, each from a bounded run.

    Contiguous encodings (base64, base32, base85, hex) are tried on long tokens only; the
    spaced ones (binary, morse, ``\\x``/``\\u`` escapes, ascii85) only when a cheap
    substring test says they could be there.
    """
    decoded: list[str] = []
    for match in _LONG_TOKEN.finditer(text):
        if len(decoded) >= MAX_DECODED_RUNS:
            return decoded
        plain = _decode_token(match.group(0)[:MAX_RUN_CHARS].strip("\"'()[]<>{},.;:"))
        if plain:
            decoded.append(plain)
    spaced = (
        ("\\x" in text or "0x" in text or ": " in text, _HEX_RUN, _from_hex),
        ("<~" in text, _ASCII85_RUN, _from_ascii85),
        ("0 0" in text or "0 1" in text or "1 0" in text, _BINARY_RUN, _from_binary),
        ("\\u" in text, _UNICODE_ESCAPES, _from_unicode_escapes),
        (".-" in text or "-." in text, _MORSE_RUN, _from_morse),
    )
    for possible, pattern, decode in spaced:
        if not possible:
            continue
        for match in pattern.finditer(text):
            if len(decoded) >= MAX_DECODED_RUNS:
                return decoded
            plain = decode(match.group(0)[:MAX_RUN_CHARS])
            if plain:
                decoded.append(plain)
    if "%" in text or "&#" in text:
        unescaped = html.unescape(urllib.parse.unquote(text))
        if unescaped != text:
            decoded.append(unescaped)
    return decoded[:MAX_DECODED_RUNS]


def _decode_token(token: str) -> str | None:
    for pattern, decode in (
        (_HEX, _from_hex),
        (_BASE32, _from_base32),
        (_BASE64, _from_base64),
        (_BASE85, _from_base85),
    ):
        if pattern.fullmatch(token):
            plain = decode(token)
            if plain:
                return plain
    return None


def _from_base64(run: str) -> str | None:
    bare = run.rstrip("=")
    padded = bare + "=" * (-len(bare) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable(raw)


def _from_hex(run: str) -> str | None:
    digits = re.sub(r"\\x|0x|[\s:,]", "", run)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    return _printable(raw)


def _from_base32(run: str) -> str | None:
    padded = run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 8)
    try:
        return _printable(base64.b32decode(padded))
    except (binascii.Error, ValueError):
        return None


def _from_ascii85(run: str) -> str | None:
    try:
        return _printable(base64.a85decode(run, adobe=True, ignorechars=b" \t\r\n"))
    except (binascii.Error, ValueError):
        return None


def _from_base85(run: str) -> str | None:
    try:
        return _printable(base64.b85decode(run[: len(run) - len(run) % 5]))
    except (binascii.Error, ValueError):
        return None


def _from_binary(run: str) -> str | None:
    octets = re.findall(r"[01]{8}", run)
    return _printable(bytes(int(octet, 2) for octet in octets))


def _from_unicode_escapes(run: str) -> str | None:
    chars = [chr(int(code, 16)) for code in re.findall(r"\\u([0-9a-fA-F]{4})", run)]
    return _printable("".join(chars).encode("utf-8", "replace"))


def _from_morse(run: str) -> str | None:
    words = [w for w in re.split(r" / |   ", run.strip()) if w]
    letters = [" ".join(_MORSE.get(c, "") for c in w.split()) for w in words]
    text = " ".join("".join(w.split()) for w in letters)
    return text if len(text.replace(" ", "")) >= 4 else None


def _printable(raw: bytes) -> str | None:
    """Decoded bytes count only when they read as text (mostly printable UTF-8)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if printable < 0.95 * len(text) or letters < 0.5 * len(text):
        return None
    return text
