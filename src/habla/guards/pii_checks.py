"""Check-digit and structure validation for national identifiers, as pure functions.

Spanish DNI and NIE (mod-23 check letter), Mexican CURP (date, sex, state, check digit)
and RFC (date, and the SAT check character when the homoclave is present). A recognizer
that finds the right shape still asks these before calling something an identifier, so
that "12345678A" in an order number is not masked while a real DNI is.

Pure and dependency-free on purpose: the recognizers, the benchmark and the tests all use
them. This module does not search text; it judges one candidate string.
"""

from __future__ import annotations

import re
from datetime import date

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_NIE_PREFIX = {"X": "0", "Y": "1", "Z": "2"}
_DNI = re.compile(r"(\d{8})-?([A-Z])")
_NIE = re.compile(r"([XYZ])-?(\d{7})-?([A-Z])")

_CURP = re.compile(
    r"[A-Z][AEIOUX][A-Z]{2}(\d{6})([HMX])([A-Z]{2})[B-DF-HJ-NP-TV-Z]{3}([0-9A-Z])(\d)"
)
_CURP_ALPHABET = "0123456789ABCDEFGHIJKLMN\u00d1OPQRSTUVWXYZ"
# The 32 states' codes, plus NE for people born abroad.
_CURP_STATES = frozenset(
    [
        "AS",
        "BC",
        "BS",
        "CC",
        "CL",
        "CM",
        "CS",
        "CH",
        "DF",
        "DG",
        "GT",
        "GR",
        "HG",
        "JC",
        "MC",
        "MN",
        "MS",
        "NT",
        "NL",
        "OC",
        "PL",
        "QT",
        "QR",
        "SP",
        "SL",
        "SR",
        "TC",
        "TS",
        "TL",
        "VZ",
        "YN",
        "ZS",
        "NE",
    ]
)

_RFC = re.compile(r"([A-Z\u00d1&]{3,4})(\d{6})([A-Z0-9]{2}[0-9A])?")
_RFC_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ \u00d1"


def normalise_id(text: str) -> str:
    """Uppercase without spaces or dots, the form the checks below expect."""
    return re.sub(r"[\s.]", "", text).upper()


def dni_valid(text: str) -> bool:
    """A Spanish DNI: eight digits and the mod-23 check letter."""
    match = _DNI.fullmatch(normalise_id(text))
    if not match:
        return False
    return _DNI_LETTERS[int(match.group(1)) % 23] == match.group(2)


def nie_valid(text: str) -> bool:
    """A Spanish NIE: X/Y/Z, seven digits, and the check letter of the number they form."""
    match = _NIE.fullmatch(normalise_id(text))
    if not match:
        return False
    number = int(_NIE_PREFIX[match.group(1)] + match.group(2))
    return _DNI_LETTERS[number % 23] == match.group(3)


def _valid_yymmdd(digits: str) -> bool:
    year, month, day = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    # Leap years repeat every 4 years in both centuries a YY could mean (2000 is one).
    try:
        date(2000 + year, month, day)
    except ValueError:
        return False
    return True


def curp_check_digit(first17: str) -> int:
    total = sum(_CURP_ALPHABET.index(ch) * (18 - i) for i, ch in enumerate(first17))
    return (10 - total % 10) % 10


def curp_valid(text: str) -> bool:
    """A Mexican CURP: shape, a real birth date, a state code and the check digit."""
    candidate = normalise_id(text)
    match = _CURP.fullmatch(candidate)
    if not match or not _valid_yymmdd(match.group(1)) or match.group(3) not in _CURP_STATES:
        return False
    return curp_check_digit(candidate[:17]) == int(match.group(5))


def rfc_check_char(first: str) -> str:
    """The SAT check character for the first 11 (companies) or 12 (people) characters."""
    padded = first.rjust(12)  # a company's RFC is scored as if it had a leading space
    total = sum(_RFC_ALPHABET.index(ch) * (13 - i) for i, ch in enumerate(padded))
    remainder = total % 11
    if remainder == 0:
        return "0"
    return "A" if remainder == 1 else str(11 - remainder)


def rfc_valid(text: str) -> bool:
    """A Mexican RFC: 3 (company) or 4 (person) letters, a real date and, when the
    three-character homoclave is present, its check character."""
    candidate = normalise_id(text).replace("-", "")
    match = _RFC.fullmatch(candidate)
    if not match or not _valid_yymmdd(match.group(2)):
        return False
    if match.group(3) is None:
        return len(match.group(1)) == 4  # a person's RFC without homoclave still identifies
    return rfc_check_char(candidate[:-1]) == candidate[-1]


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that card numbers carry (used by the benchmark's generator)."""
    numbers = [int(d) for d in digits if d.isdigit()]
    if len(numbers) < 12:
        return False
    total = 0
    for index, digit in enumerate(reversed(numbers)):
        if index % 2 == 1:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0
