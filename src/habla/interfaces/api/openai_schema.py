"""Pydantic models of the OpenAI chat-completions wire format, as habla accepts it.

Unknown fields are tolerated (OpenAI clients send many: ``user``, ``logit_bias`` …) but
every field habla uses is validated strictly. ``conversation_id``, ``persona`` and
``store`` are habla extensions (with the official client, pass them in ``extra_body``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_STOP_SEQUENCES = 4


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ImageURL(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = Field(default=None, max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    n: int = Field(default=1, ge=1, le=1)
    store: bool | None = None
    # habla extensions
    conversation_id: str | None = Field(default=None, max_length=64)
    persona: str | None = Field(default=None, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        # JSON may escape lone surrogates (\ud800), which no store or tokenizer can
        # encode; unconstrained ``str`` fields let them through, so reject them up front.
        where = _lone_surrogate(data)
        if where is not None:
            raise ValueError(f"the text at '{where}' is not valid Unicode")
        return data

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
        if any(not s for s in stops):
            raise ValueError("stop sequences must not be empty")
        return value

    @property
    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def reply_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def _lone_surrogate(data: object) -> str | None:
    """Where the first string (or key) holding a lone surrogate is, else None.

    Iterative, so that deeply nested JSON in an ignored field cannot exhaust the stack.
    """
    pending: list[tuple[object, str]] = [(data, "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path or "body"
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                name = str(key).encode("utf-8", "backslashreplace").decode()
                here = f"{path}.{name}" if path else name
                pending += [(item, here), (key, here)]
        elif isinstance(value, list):
            pending += [(item, f"{path}[{i}]") for i, item in reversed(list(enumerate(value)))]
    return None
