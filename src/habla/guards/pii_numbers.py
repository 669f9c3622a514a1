"""Finders for phone numbers, card numbers and IBANs: one regex pass, then validation.

Why not presidio's own recognizers for these: its phone recognizer runs a full
``phonenumbers`` scan once per region (about 30 ms per 1 000 characters for a dozen
regions, most of the masking time), its card regex knows only some brands and lengths
(no 13/19-digit Visa, Maestro, Mastercard 2-series) and its IBAN regex misses lowercase
and some national layouts. Here a cheap regex proposes candidates and only those are
validated:

- phone: international (``+`` or ``00``) numbers must be *possible* for their country
  code; national ones must be *valid* in one of the configured regions, or have the North
  American ``(NNN) NNN-NNNN`` shape. Dates, IPv4 addresses and long bare digit runs are
  not candidates.
- card: 12 to 19 digits starting 1-6, single spaces or dashes between groups, and the
  Luhn checksum.
- IBAN: a country code, two check digits, 11 to 30 letters or digits (grouped by four or
  not), and the mod-97 check.

Functions return ``(start, end)`` spans; they never log or keep the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers

from habla.guards.pii_checks import luhn_valid

_PHONE = re.compile(
    r"(?<![\w+/.-])(?:\+|00)?\(?\d[\d \t().\-/]{5,22}\d"  # the number
    r"(?:\s*(?:x|ext\.?|#)\s*\d{1,6})?"  # an extension
    r"(?![\w/]|\.\d|-\d)",
    re.IGNORECASE,
)
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_NANP = re.compile(r"\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|#)\s*\d{1,6}$", re.IGNORECASE)

_CARD = re.compile(r"(?<![\w-])[1-6]\d{3}(?:[ -]?\d){8,15}(?![\w-])")
_IBAN = re.compile(
    r"(?<![\w])[A-Z]{2}\d{2}(?:(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?|[A-Z0-9]{11,30})\b",
    re.IGNORECASE,
)


def find_phones(text: str, regions: Sequence[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _PHONE.finditer(text):
        candidate = match.group(0).rstrip(" .-/(")
        if _is_phone(candidate, regions):
            spans.append((match.start(), match.start() + len(candidate)))
    return spans


def _is_phone(candidate: str, regions: Sequence[str]) -> bool:
    core = _EXTENSION.sub("", candidate)
    digits = sum(ch.isdigit() for ch in core)
    if not 7 <= digits <= 15 or _DATE.fullmatch(core.strip()) or _IPV4.fullmatch(core.strip()):
        return False
    if core.startswith(("+", "00")):
        international = "+" + core[2:] if core.startswith("00") else core
        return _parses(international, None, possible=True)
    if _NANP.fullmatch(core.strip()):
        return True
    if not any(not ch.isdigit() for ch in core) and digits > 11:
        return False  # a long bare run of digits is an id, not a phone number
    return any(_parses(core, region, possible=False) for region in regions)


def _parses(text: str, region: str | None, *, possible: bool) -> bool:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    if possible:
        return bool(phonenumbers.is_possible_number(number))
    return bool(phonenumbers.is_valid_number(number))


def find_cards(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _CARD.finditer(text) if luhn_valid(m.group(0))]


def iban_valid(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rotated = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rotated)
    return int(number) % 97 == 1


def find_ibans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _IBAN.finditer(text):
        candidate = match.group(0)
        # A grouped IBAN's last group may have swallowed the next short word ("… 8351 hoy"):
        # drop trailing groups until the checksum holds.
        while not iban_valid(candidate) and " " in candidate:
            candidate = candidate.rsplit(" ", 1)[0]
        if iban_valid(candidate):
            spans.append((match.start(), match.start() + len(candidate)))
    return spans
