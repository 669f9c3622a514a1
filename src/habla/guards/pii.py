"""PII detection with presidio, offline, and reversible masking of chat messages.

:class:`PiiDetector` wraps one presidio ``AnalyzerEngine`` built at start and reused: the
``no_op`` NLP engine (no spaCy model, nothing downloaded) and only rule-based recognizers
(:mod:`habla.guards.pii_recognizers`): presidio's email (made offline) and IP recognizers,
habla's phone, card (Luhn) and IBAN (mod 97) finders, Spanish DNI/NIE, Mexican CURP/RFC
and secrets. Results are cached per text (bounded), because every turn re-sends the whole
history and only the newest message is new.

:class:`PiiMasker` turns a request's messages into masked copies and a
:class:`~habla.guards.pii_vault.PiiVault` that restores the reply. Analysis is CPU work,
so it runs in a worker thread, never on the event loop.

It does not decide which backend gets masked text (the runtime does, from settings) and
logs counts per entity type only, never a value.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from habla.core.errors import ConfigError, GuardBlocked
from habla.core.messages import Message, Text
from habla.guards.pii_vault import PiiVault, Span

log = logging.getLogger(__name__)

# habla's entity names (settings, placeholders) -> presidio's.
ENTITIES: dict[str, str] = {
    "EMAIL": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS",
    "ES_DNI": "ES_DNI",
    "ES_NIE": "ES_NIE",
    "MX_CURP": "MX_CURP",
    "MX_RFC": "MX_RFC",
    "SECRET": "SECRET",
}
PHONE_REGIONS = ("US", "GB", "ES", "MX", "DE", "FR", "IT", "PT", "AR", "CO", "BR", "NL")
SCORE_THRESHOLD = 0.3
CACHE_ENTRIES = 2048
CACHE_MAX_CHARS = 20_000  # longer texts are rare and cheap to keep out of memory
EXTRA_HINT = 'PII masking needs the privacy extra: pip install "habla[privacy]"'


def check_entities(names: Iterable[str]) -> list[str]:
    """The names, validated; raises :class:`ValueError` naming an unknown one."""
    chosen = list(dict.fromkeys(names))
    unknown = [name for name in chosen if name not in ENTITIES]
    if unknown:
        raise ValueError(
            f"unknown PII entities {unknown}; choose from: {', '.join(sorted(ENTITIES))}"
        )
    return chosen


class PiiDetector:
    """Finds PII spans in text. Build once (it compiles every recognizer) and share."""

    def __init__(self, entities: Sequence[str] | None = None) -> None:
        self.entities = check_entities(entities if entities is not None else ENTITIES)
        self._to_label = {ENTITIES[name]: name for name in self.entities}
        self._engine = _build_engine(self.entities)
        self._cache: OrderedDict[str, tuple[Span, ...]] = OrderedDict()
        self._lock = threading.Lock()  # find() runs in worker threads

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans, in order; where two overlap the longer one wins."""
        if not text.strip():
            return []
        if len(text) > CACHE_MAX_CHARS:
            return self.analyze(text)
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return list(cached)
        spans = self.analyze(text)
        with self._lock:
            self._cache[text] = tuple(spans)
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return spans

    def analyze(self, text: str) -> list[Span]:
        """:meth:`find` without the cache."""
        try:
            results = self._engine.analyze(
                text=text,
                language="en",
                entities=list(self._to_label),
                score_threshold=SCORE_THRESHOLD,
            )
        except Exception as exc:  # presidio raises bare ValueErrors and friends
            # Fail closed: unchecked text must not reach the model. The original message
            # may quote the text, so it stays out of ours.
            raise GuardBlocked(
                f"the message could not be checked for personal data ({type(exc).__name__})"
            ) from exc
        spans = [Span(self._to_label[r.entity_type], r.start, r.end) for r in results]
        return _without_overlaps(spans)


class PiiMasker:
    """Masks messages for one request to a backend; see :mod:`habla.guards.pii_vault`."""

    def __init__(self, detector: PiiDetector) -> None:
        self._detector = detector

    def mask_sync(self, messages: Sequence[Message]) -> tuple[tuple[Message, ...], PiiVault]:
        vault = PiiVault(avoid=(m.text for m in messages))
        masked = tuple(self._mask_message(message, vault) for message in messages)
        return masked, vault

    async def mask(self, messages: Sequence[Message]) -> tuple[tuple[Message, ...], PiiVault]:
        return await asyncio.to_thread(self.mask_sync, messages)

    def _mask_message(self, message: Message, vault: PiiVault) -> Message:
        parts = tuple(
            Text(vault.mask(part.text, self._detector.find(part.text)))
            if isinstance(part, Text)
            else part
            for part in message.parts
        )
        return message if parts == message.parts else Message(message.role, parts)


def _without_overlaps(spans: list[Span]) -> list[Span]:
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def _build_engine(entities: Sequence[str]) -> Any:
    try:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        from habla.guards import pii_recognizers as ours
    except ImportError as exc:
        raise ConfigError(EXTRA_HINT) from exc
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    wanted = set(entities)
    candidates: dict[str, Any] = {
        "EMAIL": ours.OfflineEmailRecognizer,
        "PHONE": lambda: ours.phones(PHONE_REGIONS),
        "CREDIT_CARD": ours.cards,
        "IBAN": ours.ibans,
        "IP_ADDRESS": lambda: IpRecognizer(supported_language=ours.LANGUAGE),
        "ES_DNI": ours.spanish_dni,
        "ES_NIE": ours.spanish_nie,
        "MX_CURP": ours.mexican_curp,
        "MX_RFC": ours.mexican_rfc,
        "SECRET": ours.SecretRecognizer,
    }
    registry = RecognizerRegistry(supported_languages=[ours.LANGUAGE])
    for name, make in candidates.items():
        if name in wanted:
            registry.add_recognizer(make())
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "no_op",
            "models": [{"lang_code": ours.LANGUAGE, "model_name": "none"}],
        }
    ).create_engine()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=[ours.LANGUAGE])
