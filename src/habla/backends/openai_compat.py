"""The ``openai`` backend: OpenAI itself or any OpenAI-compatible server (vLLM,
llama.cpp server, Ollama), through the official ``openai`` SDK.

What it does: sends habla's structured messages (roles kept, images as ``data:`` URLs),
always streams (``stream=True`` with ``include_usage``), retries 429/5xx/connection
errors with the SDK's own exponential backoff (which honours ``Retry-After``), and
translates every SDK or transport error into habla's error tree where it enters our code.

What it does not do: count tokens exactly (no tokenizer is available offline: tiktoken
downloads its tables at run time, which habla forbids; :meth:`OpenAIBackend.count_tokens`
is an estimate and provider-reported usage wins wherever there is one), tools or function
calls, ``n > 1`` choices, or read settings and environment variables: it is configured
only by its constructor arguments. The ``openai`` package is an extra, imported lazily.
"""

from __future__ import annotations

import base64
import email.utils
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from habla.backends.base import Capabilities, estimate_tokens
from habla.core.errors import (
    BackendError,
    BackendRejected,
    BackendUnavailable,
    ConfigError,
    UnsupportedFeature,
)
from habla.core.events import Finished, FinishReason, StreamEvent, TextDelta, Usage
from habla.core.messages import Image, Message, Text
from habla.core.options import ChatRequest, GenerationOptions

if TYPE_CHECKING:
    import openai
    from openai import AsyncOpenAI, AsyncStream
    from openai.types.chat import (
        ChatCompletionAssistantMessageParam,
        ChatCompletionChunk,
        ChatCompletionContentPartParam,
        ChatCompletionMessageParam,
        ChatCompletionSystemMessageParam,
        ChatCompletionUserMessageParam,
    )

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
MESSAGE_OVERHEAD = 4  # role markers a chat template adds around every message
IMAGE_TOKENS = 85  # what a low-detail image costs on GPT-4o
_PROVIDER_MESSAGE_LIMIT = 300
_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
}
_AUTH_REFUSED = "the model provider refused habla's credentials; check OPENAI_API_KEY"


def _require_openai() -> None:
    """Fail with a helpful message when the ``openai`` extra is not installed."""
    try:
        import openai  # noqa: F401
    except ImportError as exc:
        raise ConfigError('the OpenAI backend needs: pip install "habla[openai]"') from exc


class OpenAIBackend:
    """A model served over the OpenAI chat-completions API; ``model_id`` is ``openai:<model>``.

    ``http_client`` lets the caller share or instrument an ``httpx.AsyncClient``; it is
    then the caller's to close.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        context_window: int = 128_000,
        vision: bool = False,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        _require_openai()
        if not model:
            raise ConfigError("the OpenAI backend needs a model name, e.g. openai:gpt-4o")
        self._model = model
        self._api_key = api_key or None
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._read_timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_retries = max_retries
        self._capabilities = Capabilities(context_window=context_window, vision=vision)
        self._http_client = http_client
        self._client: AsyncOpenAI | None = None

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def host(self) -> str:
        """Where the model server is, for messages: host and port only, never credentials."""
        return _host_of(self._base_url)

    async def start(self) -> None:
        """Build the SDK client. Idempotent; makes no network call."""
        self._ready_client()

    async def close(self) -> None:
        client, self._client = self._client, None
        # AsyncOpenAI.close() closes its httpx client, which is not ours when injected.
        if client is not None and self._http_client is None:
            await client.close()

    async def count_tokens(self, messages: Sequence[Message]) -> int:
        """An estimate (about four characters a token, plus per-message and per-image
        overheads): no tokenizer for OpenAI models is available offline."""
        return estimate_prompt_tokens(messages)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        import openai

        params = self._message_params(request.messages)  # before any network call
        client = self._ready_client()
        state = _StreamState()
        try:
            chunks = await self._create(client, params, request.options)
            try:
                async for chunk in chunks:
                    for text in state.absorb(chunk):
                        yield TextDelta(text)
            finally:
                # Closing the response tells the server to stop generating.
                await chunks.close()
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise translate_error(
                exc, host=self.host, timeout=self._read_timeout, secret=self._api_key
            ) from exc
        usage = state.usage or await self._estimate_usage(request.messages, state.text)
        yield Finished(state.finish_reason, usage)

    def _ready_client(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def _build_client(self) -> AsyncOpenAI:
        import openai

        if self._api_key is None and self._base_url == DEFAULT_BASE_URL:
            raise ConfigError("the OpenAI backend needs an API key: set OPENAI_API_KEY")
        # openai.Timeout is the Timeout class of whichever httpx the SDK speaks (httpx2
        # since openai 3); it is httpx.Timeout(timeout, connect=connect_timeout) either way.
        timeout = openai.Timeout(self._read_timeout, connect=self._connect_timeout)
        # The SDK accepts a plain httpx.AsyncClient at run time although newer versions
        # annotate http_client as httpx2.AsyncClient: Any bridges that at the boundary.
        http_client: Any = self._http_client
        # base_url and api_key are always passed so that the SDK never falls back to
        # OPENAI_BASE_URL / OPENAI_API_KEY from the environment behind our back.
        return openai.AsyncOpenAI(
            api_key=self._api_key or PLACEHOLDER_KEY,
            base_url=self._base_url,
            timeout=timeout,
            max_retries=self._max_retries,
            http_client=http_client,
        )

    async def _create(
        self,
        client: AsyncOpenAI,
        messages: list[ChatCompletionMessageParam],
        options: GenerationOptions,
    ) -> AsyncStream[ChatCompletionChunk]:
        import openai

        return await client.chat.completions.create(
            model=self._model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            # Omitted rather than sent empty: some compatible servers reject stop=[].
            stop=list(options.stop) if options.stop else openai.omit,
            seed=options.seed if options.seed is not None else openai.omit,
        )

    def _message_params(self, messages: Sequence[Message]) -> list[ChatCompletionMessageParam]:
        if not self._capabilities.vision and any(m.has_images for m in messages):
            raise UnsupportedFeature(
                f"the model {self.model_id} cannot read images; send text only "
                "or choose a model with vision",
                param="messages",
            )
        return [message_param(m) for m in messages]

    async def _estimate_usage(self, messages: Sequence[Message], produced: str) -> Usage:
        return Usage(await self.count_tokens(messages), estimate_tokens(produced))


@dataclass(slots=True)
class _StreamState:
    """What one streamed completion has produced so far."""

    parts: list[str] = field(default_factory=list)
    finish_reason: FinishReason = "stop"
    usage: Usage | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def absorb(self, chunk: ChatCompletionChunk) -> list[str]:
        """Record one chunk; return its non-empty text deltas."""
        if chunk.usage is not None:
            # Some servers report running usage on every chunk: the last one wins.
            usage = chunk.usage
            self.usage = Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0)
        texts: list[str] = []
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # habla never asks for n > 1
            if choice.delta.content:
                texts.append(choice.delta.content)
            if choice.finish_reason is not None:
                self.finish_reason = _FINISH_REASONS.get(choice.finish_reason, "stop")
        self.parts.extend(texts)
        return texts


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    """Tokenizer-free prompt estimate: text estimate + 4 per message + 85 per image."""
    return sum(
        MESSAGE_OVERHEAD + estimate_tokens(m.text) + IMAGE_TOKENS * len(m.images) for m in messages
    )


def message_param(message: Message) -> ChatCompletionMessageParam:
    """One habla message as the API's structured message; roles are never merged."""
    if message.role == "user":
        user: ChatCompletionUserMessageParam = {"role": "user", "content": _user_content(message)}
        return user
    if message.has_images:
        # The chat-completions API accepts image parts in user messages only.
        raise UnsupportedFeature(
            f"images can only be sent in user messages, not in a {message.role} message",
            param="messages",
        )
    if message.role == "system":
        system: ChatCompletionSystemMessageParam = {"role": "system", "content": message.text}
        return system
    assistant: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": message.text,
    }
    return assistant


def _user_content(message: Message) -> str | list[ChatCompletionContentPartParam]:
    if not message.has_images:
        return message.text
    parts: list[ChatCompletionContentPartParam] = []
    for part in message.parts:
        if isinstance(part, Text):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            parts.append({"type": "image_url", "image_url": {"url": data_url(part)}})
    return parts


def data_url(image: Image) -> str:
    encoded = base64.b64encode(image.data).decode("ascii")
    return f"data:{image.mime};base64,{encoded}"


def translate_error(
    exc: Exception, *, host: str, timeout: float, secret: str | None = None
) -> BackendError:
    """Map an SDK or httpx error to habla's tree. Messages never carry the API key:
    ``secret`` is masked out of any provider text that is passed on."""
    error = _translate(exc, host=host, timeout=timeout)
    if secret and secret in error.message:
        masked = error.message.replace(secret, "***")
        error.message = masked
        error.args = (masked,)
    return error


def _translate(exc: Exception, *, host: str, timeout: float) -> BackendError:
    import openai

    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return BackendUnavailable(f"the model server at {host} did not answer within {timeout:g} s")
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return BackendUnavailable(f"the model server at {host} could not be reached")
    if isinstance(exc, openai.APIStatusError):
        return _translate_status(exc, host)
    if isinstance(exc, openai.APIResponseValidationError):
        return BackendError(f"the model server at {host} sent a reply habla could not read")
    if isinstance(exc, openai.APIError):
        # An error event in the middle of a stream: the server gave up on this reply.
        return BackendUnavailable(
            f"the model server at {host} failed mid-reply: {_trim(exc.message)}"
        )
    return BackendError(f"the model server at {host} failed: {type(exc).__name__}")


def _translate_status(exc: openai.APIStatusError, host: str) -> BackendError:
    import openai

    status = exc.status_code
    if isinstance(exc, openai.RateLimitError):
        return BackendUnavailable(
            f"the model server at {host} is rate-limiting habla; try again later",
            retry_after=parse_retry_after(exc.response.headers),
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        # Fixed text: providers echo (part of) the key in their own message.
        return BackendRejected(_AUTH_REFUSED)
    if status >= 500 or status == 408:
        return BackendUnavailable(
            f"the model server at {host} failed (HTTP {status}); try again later",
            retry_after=parse_retry_after(exc.response.headers),
        )
    return BackendRejected(
        f"the model server at {host} refused the request (HTTP {status}): {_trim(exc.message)}"
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or an
    HTTP date); None when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        seconds = _float_or_none(raw_ms)
        if seconds is not None and seconds >= 0:
            return seconds / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _float_or_none(raw)
    if seconds is None:
        seconds = _seconds_until(raw)
    return seconds if seconds is not None and seconds >= 0 else None


def _float_or_none(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value == value and value != float("inf") else None  # no NaN, no inf


def _seconds_until(http_date: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _trim(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _PROVIDER_MESSAGE_LIMIT:
        return text
    return text[: _PROVIDER_MESSAGE_LIMIT - 1].rstrip() + "…"


def _host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or "an unknown address"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return f"{host}:{parts.port}" if parts.port else host
