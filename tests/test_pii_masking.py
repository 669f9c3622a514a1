"""PII detection (presidio, offline, habla's recognizers) and reversible masking: each
entity found, invalid check digits left alone, the same value kept under one placeholder
across messages, and placeholders restored even when a reply splits them across deltas
(LLM02). Sockets outside loopback are blocked, so this also proves nothing goes online."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from habla.core.messages import Image, Message, Text
from habla.guards.pii import PiiDetector, PiiMasker, check_entities
from habla.guards.pii_vault import PiiVault, PlaceholderRestorer, Span


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector()


SAMPLES = {
    "EMAIL": "maria.garcia@example.es",
    "PHONE": "+34 612 345 678",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN": "ES91 2100 0418 4502 0005 1332",
    "IP_ADDRESS": "192.168.10.23",
    "ES_DNI": "12345678Z",
    "ES_NIE": "X1234567L",
    "MX_CURP": "HEGG560427MVZRRL04",
    "MX_RFC": "GODE561231GR8",
    "SECRET": "AKIA" + "IOSFODNN7EXAMPLE",
}


@pytest.mark.parametrize(("label", "value"), SAMPLES.items())
def test_each_entity_is_found(detector: PiiDetector, label: str, value: str) -> None:
    text = f"Please note this: {value}. Thank you!"
    spans = detector.find(text)
    assert [(s.label, text[s.start : s.end]) for s in spans] == [(label, value)]


@pytest.mark.parametrize(
    "text",
    [
        "Order 12345678A ships tomorrow.",  # DNI shape, wrong letter
        "Card 4111 1111 1111 1112 was declined.",  # fails Luhn
        "CURP HEGG560427MVZRRL05 has a bad check digit.",
        "RFC GODE561231GR9 has a bad check character.",
        "Version 1.2.3 of the tool, ticket #4521, 15 items at 3.50 each.",
        "",
        "   ",
    ],
)
def test_lookalikes_are_left_alone(detector: PiiDetector, text: str) -> None:
    assert detector.find(text) == []


def test_entities_can_be_chosen() -> None:
    only_email = PiiDetector(["EMAIL"])
    text = f"{SAMPLES['EMAIL']} and {SAMPLES['CREDIT_CARD']}"
    assert [s.label for s in only_email.find(text)] == ["EMAIL"]


def test_unknown_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="PASSPORT"):
        check_entities(["EMAIL", "PASSPORT"])


async def test_masking_round_trip_keeps_one_placeholder_per_value(detector: PiiDetector) -> None:
    email, card = SAMPLES["EMAIL"], SAMPLES["CREDIT_CARD"]
    messages = (
        Message.of("system", "Be helpful."),
        Message.of("user", f"I am {email}, card {card}."),
        Message.of("assistant", "Noted."),
        Message(
            "user",
            (Text(f"Again: {email}. Other: ana@example.org"), Image(b"\x89PNG", "image/png")),
        ),
    )
    masked, vault = await PiiMasker(detector).mask(messages)
    assert masked[0] is messages[0]  # nothing to mask: the same object
    assert masked[1].text == "I am <EMAIL_1>, card <CREDIT_CARD_1>."
    assert masked[3].text == "Again: <EMAIL_1>. Other: <EMAIL_2>"
    assert masked[3].images == messages[3].images
    assert vault.counts == {"EMAIL": 2, "CREDIT_CARD": 1}
    for original, hidden in zip(messages, masked, strict=True):
        assert vault.restore(hidden.text) == original.text


def test_placeholders_typed_by_the_user_are_not_reused() -> None:
    typed = "my template says <EMAIL_1> and I am bo@example.com"
    vault = PiiVault(avoid=[typed])
    start = typed.index("bo@")
    masked = vault.mask(typed, [Span("EMAIL", start, len(typed))])
    assert masked == "my template says <EMAIL_1> and I am <EMAIL_2>"
    assert vault.restore(masked) == typed


def test_unknown_placeholders_stay_as_they_are() -> None:
    vault = PiiVault()
    vault.placeholder("EMAIL", "a@b.co")
    assert vault.restore("<EMAIL_1> <EMAIL_7> <PHONE_1>") == "a@b.co <EMAIL_7> <PHONE_1>"


def _streamed(vault: PiiVault, deltas: list[str]) -> str:
    restorer = PlaceholderRestorer(vault)
    out = [restorer.feed(delta) for delta in deltas]
    out.append(restorer.flush())
    assert all("<EMAIL_1>" not in piece and "<PHONE_1>" not in piece for piece in out)
    return "".join(out)


def test_restore_across_every_split_of_a_reply() -> None:
    vault = PiiVault()
    email = vault.placeholder("EMAIL", "maria@example.es")
    phone = vault.placeholder("PHONE", "+34 612 345 678")
    reply = f"Write to {email} or call {phone}; if a < b then <b>bold</b> stays."
    expected = vault.restore(reply)
    assert "maria@example.es" in expected
    for first in range(len(reply) + 1):
        for second in range(first, len(reply) + 1, 7):
            deltas = [reply[:first], reply[first:second], reply[second:]]
            assert _streamed(vault, deltas) == expected, (first, second)


def test_restore_one_character_at_a_time() -> None:
    vault = PiiVault()
    vault.placeholder("MX_CURP", "HEGG560427MVZRRL04")
    reply = "Your CURP is <MX_CURP_1>."
    assert _streamed(vault, list(reply)) == "Your CURP is HEGG560427MVZRRL04."


def test_text_that_cannot_be_a_placeholder_is_not_held_back() -> None:
    restorer = PlaceholderRestorer(PiiVault())
    assert restorer.feed("if a < b") == "if a < b"
    assert restorer.feed(" and <EMA") == " and "
    assert restorer.feed("IL_1 is odd") == "<EMAIL_1 is odd"
    assert restorer.flush() == ""


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("PHONE", "+1 (415) 555-2671"),
        ("PHONE", "0034 600 12 34 56"),
        ("PHONE", "912 345 678"),  # Spanish national format
        ("PHONE", "030 901820"),  # German national format
        ("PHONE", "01 23 45 67 89"),  # French national format
        ("PHONE", "(633) 742-1234 x123"),  # NANP shape with an extension
        ("CREDIT_CARD", "4222222222222"),  # 13-digit Visa
        ("CREDIT_CARD", "3782-822463-10005"),  # Amex with dashes
        ("CREDIT_CARD", "6011 1111 1111 1117"),
        ("IBAN", "de89 3704 0044 0532 0130 00"),
        ("IBAN", "GB82WEST12345698765432"),
    ],
)
def test_number_formats(detector: PiiDetector, label: str, value: str) -> None:
    text = f"Here: {value} hoy."
    spans = detector.find(text)
    assert [(s.label, text[s.start : s.end]) for s in spans] == [(label, value)]


@pytest.mark.parametrize(
    "text",
    [
        "Released on 2024-05-17 and again on 17/05/2024.",
        "Version 1.2.3 and build 20240517123456789.",
        "Ticket 4521 covers 12 units at 3.50 each.",
        "IBAN-like ES00 1234 but too short.",
    ],
)
def test_number_lookalikes(detector: PiiDetector, text: str) -> None:
    assert detector.find(text) == []


def test_results_are_cached_per_text(detector: PiiDetector) -> None:
    text = f"cache me: {SAMPLES['EMAIL']}"
    first = detector.find(text)
    assert detector.find(text) == first == detector.analyze(text)
    first.clear()  # callers get a copy: the cached result stays intact
    assert len(detector.find(text)) == 1


OFFLINE = """
import os, socket
attempts = []
def connect(self, address):
    attempts.append(address)
    raise OSError("no network in this test")
def getaddrinfo(*args, **kwargs):
    attempts.append(args[0])
    raise OSError("no name resolution in this test")
socket.socket.connect = connect  # instrumentation: count attempts, allow none
socket.getaddrinfo = getaddrinfo
from habla.guards.pii import PiiDetector
spans = PiiDetector().find("write to ana@example.co.uk or +34 612 345 678")
cache = os.environ["XDG_CACHE_HOME"]
print(len(spans), len(attempts), sorted(os.listdir(cache)) if os.path.isdir(cache) else [])
"""


def test_detection_never_touches_the_network_or_a_cache(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split(maxsplit=2) == ["2", "0", "[]"]
