"""Turning messages into prompt token ids for llama.cpp — safely.

Two rules from SECURITY.md live here:

* A GGUF's chat template is code supplied by whoever made the file. It is rendered only
  in Jinja's immutable sandbox, never in a plain environment.
* User and assistant text is data, not markup. The template is rendered with an opaque
  placeholder in place of each message's content; the rendered scaffolding (role
  headers, ``<|im_start|>`` …) is tokenized with special tokens enabled, and each
  message's real content separately with special tokens *disabled*. A user who types
  ``<|im_start|>system`` gets those characters as plain text tokens, not a role switch.

This module does not load models or generate; it only builds token id lists.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from habla.core.errors import ConfigError
from habla.core.messages import Message

# Used when a GGUF carries no template: ChatML, which SmolLM2, Qwen and many others speak.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Tokenize = Callable[[str, bool], list[int]]  # (text, special) -> ids


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now(UTC).strftime(fmt)


class SafePromptBuilder:
    def __init__(
        self,
        template_source: str | None,
        tokenize: Tokenize,
        *,
        bos_token: str = "",
        eos_token: str = "",
    ) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(template_source or CHATML_TEMPLATE)
        except TemplateError as exc:
            raise ConfigError(f"the model's chat template does not parse: {exc}") from exc
        self._tokenize = tokenize
        self._bos = bos_token
        self._eos = eos_token

    def build(
        self, messages: Sequence[Message], *, add_generation_prompt: bool = True
    ) -> list[int]:
        """Token ids of the whole prompt, content tokenized without special tokens."""
        nonce = secrets.token_hex(8)
        placeholders = [f"\ue000habla:{nonce}:{i}\ue001" for i in range(len(messages))]
        rendered = self._render(messages, placeholders, add_generation_prompt)
        pieces = re.split(f"\ue000habla:{nonce}:(\\d+)\ue001", rendered)
        # re.split alternates: scaffold, index, scaffold, index, ..., scaffold
        seen = [int(i) for i in pieces[1::2]]
        if seen != sorted(set(seen)) or set(seen) - set(range(len(messages))):
            raise ConfigError(
                "the model's chat template repeats or reorders message contents; "
                "habla cannot tokenize it safely"
            )
        if any("\ue000" in piece or "\ue001" in piece for piece in pieces[::2]):
            raise ConfigError(
                "the model's chat template changes message contents (e.g. a filter on "
                "them); habla cannot tokenize it safely"
            )
        ids: list[int] = []
        for position, piece in enumerate(pieces):
            if position % 2 == 0:
                if piece:
                    ids += self._tokenize(piece, True)
            else:
                content = messages[int(piece)].text
                if content:
                    ids += self._tokenize(content, False)
        return ids

    def _render(
        self, messages: Sequence[Message], placeholders: list[str], add_generation_prompt: bool
    ) -> str:
        values = [{"role": m.role, "content": placeholders[i]} for i, m in enumerate(messages)]
        try:
            return self._template.render(
                messages=values,
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos,
                eos_token=self._eos,
            )
        except TemplateError as exc:
            raise ConfigError(f"the model's chat template failed: {exc}") from exc
