"""The presidio recognizers habla adds, and the offline versions of presidio's own.

- Spanish DNI and NIE, Mexican CURP and RFC: pattern recognizers whose candidates must
  pass the check-digit validation in :mod:`habla.guards.pii_checks`.
- Phone numbers, card numbers, IBANs: :class:`FinderRecognizer` over the faster and
  broader finders in :mod:`habla.guards.pii_numbers`.
- Secrets and API keys: one recognizer over :mod:`habla.guards.secrets`, the same list
  the output guard and the persona validation use.
- Email: presidio's recognizer validates the domain with ``tldextract``, whose default
  extractor fetches the public suffix list from the internet on first use. Ours uses an
  extractor built with ``suffix_list_urls=()`` and no cache directory, so only the snapshot
  bundled with tldextract is read: nothing touches the network or the disk.

Importing this module imports presidio: :mod:`habla.guards.pii` does so lazily, only when
masking is switched on. It does not decide what is masked or for which model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from habla.guards import pii_checks, pii_numbers
from habla.guards.secrets import ENTITY as SECRET_ENTITY
from habla.guards.secrets import find_secrets

LANGUAGE = "en"  # a tag only: the no-op NLP engine does no language processing


class _CheckedRecognizer(PatternRecognizer):
    """A pattern recognizer whose every candidate must pass ``check``."""

    def __init__(
        self,
        entity: str,
        patterns: Sequence[tuple[str, str]],
        check: Callable[[str], bool],
        context: Sequence[str] = (),
    ) -> None:
        self._check = check
        super().__init__(
            supported_entity=entity,
            patterns=[Pattern(name, regex, 0.5) for name, regex in patterns],
            context=list(context),
            supported_language=LANGUAGE,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return self._check(pattern_text)


def spanish_dni() -> PatternRecognizer:
    return _CheckedRecognizer(
        "ES_DNI", [("dni", r"\b\d{2}\.?\d{3}\.?\d{3}[\s-]?[A-Z]\b")], pii_checks.dni_valid, ["dni"]
    )


def spanish_nie() -> PatternRecognizer:
    return _CheckedRecognizer(
        "ES_NIE", [("nie", r"\b[XYZ][\s-]?\d{7}[\s-]?[A-Z]\b")], pii_checks.nie_valid, ["nie"]
    )


def mexican_curp() -> PatternRecognizer:
    return _CheckedRecognizer(
        "MX_CURP",
        [("curp", r"\b[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d\b")],
        pii_checks.curp_valid,
        ["curp"],
    )


def mexican_rfc() -> PatternRecognizer:
    return _CheckedRecognizer(
        "MX_RFC",
        [("rfc", r"(?<![\w&\u00d1])[A-Z\u00d1&]{3,4}-?\d{6}(?:-?[A-Z0-9]{2}[0-9A])?\b")],
        pii_checks.rfc_valid,
        ["rfc"],
    )


class FinderRecognizer(EntityRecognizer):
    """Wraps a ``text -> [(start, end)]`` finder (:mod:`habla.guards.pii_numbers`)."""

    def __init__(self, entity: str, find: Callable[[str], list[tuple[int, int]]]) -> None:
        self._find = find
        super().__init__(
            supported_entities=[entity], name=f"{entity}Finder", supported_language=LANGUAGE
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
        entity = self.supported_entities[0]
        return [RecognizerResult(entity, start, end, 1.0) for start, end in self._find(text)]


def phones(regions: Sequence[str]) -> EntityRecognizer:
    return FinderRecognizer("PHONE_NUMBER", lambda text: pii_numbers.find_phones(text, regions))


def cards() -> EntityRecognizer:
    return FinderRecognizer("CREDIT_CARD", pii_numbers.find_cards)


def ibans() -> EntityRecognizer:
    return FinderRecognizer("IBAN_CODE", pii_numbers.find_ibans)


class SecretRecognizer(EntityRecognizer):
    """API keys, tokens and private keys, as :func:`habla.guards.secrets.find_secrets`
    sees them."""

    def __init__(self) -> None:
        super().__init__(
            supported_entities=[SECRET_ENTITY], name="SecretRecognizer", supported_language=LANGUAGE
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
        return [
            RecognizerResult(SECRET_ENTITY, match.start, match.end, 1.0)
            for match in find_secrets(text)
        ]


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer with a ``tldextract`` that never goes online."""

    def __init__(self) -> None:
        # suffix_list_urls=() -> no download; cache_dir=None -> the bundled snapshot only.
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        super().__init__(supported_language=LANGUAGE)

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._extract(pattern_text).fqdn)
