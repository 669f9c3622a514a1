"""What the ``scripted`` backend received, read back from its ``record_path`` (one JSON
object per request, oldest first) for tests that check what reached the model.

It only reads: the backend itself writes the file (``habla.backends.scripted``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def received(record_path: Path) -> list[dict[str, Any]]:
    """Every recorded request, oldest first; none yet (no file) is an empty list."""
    if not record_path.exists():
        return []
    lines = record_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
