"""Personas: named system prompts. ``default`` always exists.

System prompts are treated as public (OWASP LLM07): nothing here is secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from habla.core.errors import InvalidRequest

DEFAULT_PERSONA = "default"


class Personas:
    def __init__(self, prompts: Mapping[str, str]) -> None:
        if DEFAULT_PERSONA not in prompts:
            raise ValueError("the personas need a 'default' entry")
        self._prompts = MappingProxyType(dict(prompts))

    @property
    def names(self) -> list[str]:
        return sorted(self._prompts)

    def prompt(self, name: str | None) -> str:
        key = name or DEFAULT_PERSONA
        try:
            return self._prompts[key]
        except KeyError:
            raise InvalidRequest(
                f"unknown persona {key!r}; this server has: {', '.join(self.names)}",
                param="persona",
            ) from None
