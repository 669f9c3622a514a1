"""``habla models``: what this configuration serves, checked without loading weights."""

from __future__ import annotations

from habla.runtime.models import describe_models
from habla.settings import Settings


def print_models(settings: Settings) -> int:
    rows = describe_models(settings)
    width = max(len(model_id) for model_id, _, _ in rows)
    for model_id, is_default, status in rows:
        marker = "*" if is_default else " "
        print(f"{marker} {model_id.ljust(width)}  {status}")
    print("\n* default model (HABLA_DEFAULT_MODEL); add more with HABLA_MODELS")
    return 0 if all(status.startswith("ok") for _, _, status in rows) else 1
