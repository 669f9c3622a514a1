"""Secret and API-key patterns: one list, shared by every place that looks for credentials.

Used by the PII recognizer (secrets a user pastes are masked before a cloud model sees
them), by the output guard (a reply must not carry a credential) and by settings
validation (a persona's system prompt must not contain one). Keeping one list means the
three can never disagree about what a secret looks like.

Patterns are for well-known token formats with distinctive prefixes, plus one generic
``key = value`` rule that only fires on a long, high-entropy value. This module does not
decide what to do about a match, and never returns the secret text in anything meant for
a log: :class:`SecretMatch` carries positions and a kind, not the value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

ENTITY = "SECRET"

# The generic rule: a credential-sounding name, "=" or ":", then the value we judge.
_GENERIC_VALUE_GROUP = "value"
GENERIC_MIN_CHARS = 16
GENERIC_MIN_ENTROPY = 3.3  # bits per character; English words sit well below, keys above


@dataclass(frozen=True, slots=True)
class SecretPattern:
    kind: str
    regex: re.Pattern[str]
    validate: Callable[[re.Match[str]], bool] | None = None


@dataclass(frozen=True, slots=True)
class SecretMatch:
    kind: str
    start: int
    end: int


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` taken as a sample of its own characters."""
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _high_entropy_value(match: re.Match[str]) -> bool:
    value = match.group(_GENERIC_VALUE_GROUP)
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    return classes >= 2 and shannon_entropy(value) >= GENERIC_MIN_ENTROPY


def _compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.ASCII)


PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "private_key",
        _compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]{0,16384}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?"
        ),
    ),
    # OpenAI (sk-…, sk-proj-…, sk-svcacct-…) and Anthropic (sk-ant-…) keys.
    SecretPattern("openai_key", _compile(r"\bsk-(?:[a-z]{2,8}-)?[A-Za-z0-9_-]{20,}")),
    SecretPattern("aws_access_key_id", _compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    SecretPattern("github_token", _compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b")),
    SecretPattern("github_pat", _compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b")),
    SecretPattern("slack_token", _compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,250}")),
    SecretPattern(
        "slack_webhook",
        _compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
    ),
    SecretPattern("google_api_key", _compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    SecretPattern("stripe_key", _compile(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}\b")),
    SecretPattern("habla_api_key", _compile(r"\bhbl_[a-z0-9]{8}_[A-Za-z0-9_-]{20,}")),
    SecretPattern(
        "jwt",
        _compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    SecretPattern(
        "generic_secret",
        _compile(
            r"(?i)\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?key"
            r"|auth[_-]?token|access[_-]?token|token|password|passwd|pwd)"
            r"[\"']?\s*[:=]\s*[\"']?(?P<value>[A-Za-z0-9/+_\-.=~]{"
            + str(GENERIC_MIN_CHARS)
            + r",512})"
        ),
        _high_entropy_value,
    ),
)


def find_secrets(text: str) -> list[SecretMatch]:
    """Every credential in ``text``, in order; overlapping matches keep the longer one."""
    found: list[SecretMatch] = []
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            if pattern.validate is not None and not pattern.validate(match):
                continue
            if pattern.validate is not None:  # generic: the value is the secret, not its name
                start, end = match.span(_GENERIC_VALUE_GROUP)
            else:
                start, end = match.span()
            found.append(SecretMatch(pattern.kind, start, end))
    return _without_overlaps(found)


def contains_secret(text: str) -> bool:
    return bool(find_secrets(text))


def _without_overlaps(matches: list[SecretMatch]) -> list[SecretMatch]:
    kept: list[SecretMatch] = []
    for match in sorted(matches, key=lambda m: (m.start, -(m.end - m.start))):
        if kept and match.start < kept[-1].end:
            continue
        kept.append(match)
    return kept
