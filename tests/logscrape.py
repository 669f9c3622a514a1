"""Finds credentials in log files: habla API keys, JWTs, and the passwords tests use.

Used by the suite-wide scrape in ``conftest.py`` and by ``test_log_scrape.py``. Patterns
are deliberately loose (any JWT-shaped string, any ``hbl_`` key) so that a leak in an
unexpected format is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from seeding import PASSWORD

PATTERNS = {
    "API key": re.compile(r"hbl_[A-Za-z0-9]{4,}_[A-Za-z0-9_-]{16,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "password": re.compile(re.escape(PASSWORD)),
    "Telegram bot token": re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),
}


def scan_text(text: str, source: str = "-") -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            match = pattern.search(line)
            if match:
                shown = match.group(0)[:12] + "…"
                found.append(f"{source}:{number}: {kind} ({shown})")
    return found


def scan(paths: Iterable[Path]) -> list[str]:
    found: list[str] = []
    for path in paths:
        found += scan_text(path.read_text(encoding="utf-8", errors="replace"), path.name)
    return found
