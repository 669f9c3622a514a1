"""Turns a message's parts into JSON text for the database, and back.

The stored form is a JSON list, one object per part, in order::

    [{"type": "text", "text": "..."}, {"type": "image", "mime": "image/png", "data": "<base64>"}]

Decoding is strict: a part type this version does not know (say, written by a newer
habla) raises :class:`CodecError` rather than being dropped silently. This module does no
I/O and knows nothing about tables.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from habla.core.messages import ROLES, Image, Part, Role, Text


class CodecError(ValueError):
    """Stored message data that this version of habla cannot read."""


def encode_parts(parts: tuple[Part, ...]) -> str:
    # ensure_ascii (the default) escapes lone surrogates and NULs, which some databases
    # refuse to store raw in a text column.
    return json.dumps([_encode_part(part) for part in parts], separators=(",", ":"))


def decode_parts(raw: str) -> tuple[Part, ...]:
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CodecError(f"stored message parts are not valid JSON: {exc}") from exc
    if not isinstance(items, list):
        raise CodecError("stored message parts must be a JSON list")
    return tuple(_decode_part(item, index) for index, item in enumerate(items))


def decode_role(raw: str) -> Role:
    for role in ROLES:
        if raw == role:
            return role
    raise CodecError(f"unknown message role {raw!r} in the database")


def _encode_part(part: Part) -> dict[str, str]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Image):
        return {"type": "image", "mime": part.mime, "data": base64.b64encode(part.data).decode()}
    raise CodecError(f"cannot store message part of type {type(part).__name__}")


def _decode_part(item: Any, index: int) -> Part:
    if not isinstance(item, dict):
        raise CodecError(f"message part {index} is not a JSON object")
    kind = item.get("type")
    if kind == "text":
        return Text(_field(item, "text", index))
    if kind == "image":
        mime = _field(item, "mime", index)
        try:
            data = base64.b64decode(_field(item, "data", index), validate=True)
            return Image(data=data, mime=mime)
        except (binascii.Error, ValueError) as exc:
            raise CodecError(f"message part {index} is not a valid image: {exc}") from exc
    raise CodecError(
        f"unknown message part type {kind!r} at position {index}"
        " (written by a newer version of habla?)"
    )


def _field(item: dict[str, Any], name: str, index: int) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise CodecError(f"message part {index} lacks a string {name!r}")
    return value
