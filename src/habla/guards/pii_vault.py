"""Reversible masking: placeholders in, original values back out, also mid-stream.

A :class:`PiiVault` lives for one request to a backend. It hands out placeholders such as
``<EMAIL_1>`` — the same value always gets the same placeholder, across every message of
that request, so the model can still tell "the same address as before" — and remembers
the values so that :class:`PlaceholderRestorer` can put them back into the reply.

The restorer is streaming-safe: a placeholder split across two deltas (``"<EMA"`` then
``"IL_1> thanks"``) is held back until it is complete, so the user never sees a
placeholder and the model never sees the value. Text that only looks like the start of a
placeholder is released as soon as it cannot be one.

This module does not find PII (that is :mod:`habla.guards.pii`) and never logs values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]{0,30}_\d{1,6})>")
# What the tail of a delta may hold while a placeholder is still arriving.
_PARTIAL = re.compile(r"<[A-Z_]{0,31}\d{0,6}\Z")
MAX_PLACEHOLDER_CHARS = 41  # "<" + 31 letters/underscores + 6 digits + ">" + slack


@dataclass(frozen=True, slots=True)
class Span:
    """One finding: ``text[start:end]`` is an entity of ``label`` (e.g. ``EMAIL``)."""

    label: str
    start: int
    end: int


class PiiVault:
    """Placeholders for one request. ``avoid``: texts whose literal placeholders must not
    be reused (a user who typed ``<EMAIL_1>`` themselves keeps it as typed)."""

    def __init__(self, avoid: Iterable[str] = ()) -> None:
        self._avoid = "\n".join(avoid)
        self._by_value: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._values)

    @property
    def counts(self) -> dict[str, int]:
        """Distinct values masked per label: safe to log, it holds no values."""
        return dict(self._counts)

    def placeholder(self, label: str, value: str) -> str:
        key = (label, value)
        known = self._by_value.get(key)
        if known is not None:
            return known
        number = self._counts[label]
        while True:
            number += 1
            candidate = f"<{label}_{number}>"
            if candidate not in self._avoid:
                break
        self._counts[label] += 1
        self._by_value[key] = candidate
        self._values[candidate] = value
        return candidate

    def mask(self, text: str, spans: Iterable[Span]) -> str:
        """``text`` with each span replaced by its placeholder (spans must not overlap)."""
        pieces: list[str] = []
        cursor = 0
        for span in sorted(spans, key=lambda s: s.start):
            if span.start < cursor:
                continue  # an overlap the caller did not resolve: keep the first
            pieces.append(text[cursor : span.start])
            pieces.append(self.placeholder(span.label, text[span.start : span.end]))
            cursor = span.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def restore(self, text: str) -> str:
        """Every placeholder this vault handed out, replaced by its value; others stay."""
        if not self._values:
            return text
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(0), m.group(0)), text)


class PlaceholderRestorer:
    """Feeds reply deltas through :meth:`PiiVault.restore`, holding back a possible
    partial placeholder at the end of each delta until the next one decides it."""

    def __init__(self, vault: PiiVault) -> None:
        self._vault = vault
        self._pending = ""

    def feed(self, text: str) -> str:
        buffer = self._pending + text
        cut = _partial_start(buffer)
        self._pending = buffer[cut:]
        return self._vault.restore(buffer[:cut])

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._vault.restore(rest)


def _partial_start(buffer: str) -> int:
    """Where a possibly unfinished placeholder starts at the end of ``buffer``."""
    start = buffer.rfind("<", max(0, len(buffer) - MAX_PLACEHOLDER_CHARS))
    if start == -1 or not _PARTIAL.match(buffer, start):
        return len(buffer)
    return start
