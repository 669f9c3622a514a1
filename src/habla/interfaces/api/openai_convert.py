"""Converting OpenAI wire messages to habla's core messages (and nothing else).

Images must arrive inline as ``data:`` URLs: the server never fetches a URL a client
names (that would let any caller make habla request arbitrary hosts). Accepted types:
PNG, JPEG, WebP, GIF, up to a size limit.
"""

from __future__ import annotations

import base64
import binascii

from habla.core.errors import InputTooLarge, InvalidRequest
from habla.core.messages import Image, Message, Part, Role, Text
from habla.interfaces.api.openai_schema import ChatMessageIn, ImagePart

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024


def to_messages(
    messages: list[ChatMessageIn], *, max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
) -> tuple[Message, ...]:
    return tuple(_message(m, f"messages[{i}]", max_image_bytes) for i, m in enumerate(messages))


def _message(message: ChatMessageIn, where: str, max_image_bytes: int) -> Message:
    role: Role = "system" if message.role == "developer" else message.role
    content = message.content
    if content is None:
        raise InvalidRequest("every message needs content", param=f"{where}.content")
    if isinstance(content, str):
        return Message(role, (Text(content),))
    parts: list[Part] = []
    for index, part in enumerate(content):
        here = f"{where}.content[{index}]"
        if isinstance(part, ImagePart):
            if role != "user":
                raise InvalidRequest("only user messages may carry images", param=here)
            parts.append(decode_image(part.image_url.url, here, max_image_bytes))
        else:
            parts.append(Text(part.text))
    return Message(role, tuple(parts))


def decode_image(url: str, where: str, max_bytes: int) -> Image:
    if not url.startswith("data:"):
        raise InvalidRequest(
            "images must be sent inline as data: URLs; this server does not fetch URLs",
            param=where,
        )
    header, sep, payload = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    if not sep or encoding != "base64":
        raise InvalidRequest("an image data: URL must be base64-encoded", param=where)
    if mime not in IMAGE_TYPES:
        raise InvalidRequest(
            f"unsupported image type {mime!r}; send PNG, JPEG, WebP or GIF", param=where
        )
    if len(payload) * 3 // 4 > max_bytes:
        raise InputTooLarge(f"the image is larger than {max_bytes} bytes", param=where)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("the image is not valid base64", param=where) from exc
    return Image(data=data, mime=mime)
