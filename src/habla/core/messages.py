"""Frozen message values: what a conversation is made of, independent of any channel.

A :class:`Message` has a role and a tuple of parts (:class:`Text`, :class:`Image`).
Values carry no ids or timestamps: the store owns those. Stream events are in
:mod:`habla.core.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes = field(repr=False)
    mime: str

    def __post_init__(self) -> None:
        if not self.mime.startswith("image/"):
            raise ValueError(f"not an image MIME type: {self.mime!r}")


Part = Text | Image


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @classmethod
    def of(cls, role: Role, text: str) -> Message:
        """A message holding a single text part."""
        return cls(role=role, parts=(Text(text),))

    @property
    def text(self) -> str:
        """All text parts joined; images contribute nothing."""
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def images(self) -> tuple[Image, ...]:
        return tuple(p for p in self.parts if isinstance(p, Image))

    @property
    def has_images(self) -> bool:
        return any(isinstance(p, Image) for p in self.parts)
