"""Building backends from settings: the only place that knows which class a model id means."""

from __future__ import annotations

from habla.backends.base import Backend, split_model_id
from habla.backends.echo import EchoBackend
from habla.backends.llamacpp import LlamaCppBackend, embedded_model_path
from habla.backends.scripted import ScriptedBackend, ScriptedReply
from habla.core.errors import ConfigError
from habla.settings import Settings

EMBEDDED_MODEL = "smollm2"


def build_backend(model_id: str, settings: Settings) -> Backend:
    try:
        kind, name = split_model_id(model_id)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if kind == "llamacpp":
        return _llamacpp(name, settings)
    if kind == "openai":
        return _openai(name, settings)
    if kind == "echo":
        return EchoBackend(name)
    if kind == "scripted":
        return _scripted(name, settings)
    raise ConfigError(
        f"unknown backend kind {kind!r} in {model_id!r}; use llamacpp:, openai:, echo: or scripted:"
    )


def _llamacpp(name: str, settings: Settings) -> Backend:
    if name in settings.llamacpp_models:
        path = settings.llamacpp_models[name]
    elif name == EMBEDDED_MODEL:
        path = embedded_model_path()
    else:
        raise ConfigError(
            f"no GGUF file is configured for llamacpp:{name}; "
            f'set HABLA_LLAMACPP_MODELS=\'{{"{name}": "/path/to/model.gguf"}}\''
        )
    return LlamaCppBackend(
        name,
        path,
        n_ctx=settings.llamacpp_n_ctx,
        n_threads=settings.llamacpp_threads,
        max_queue=settings.llamacpp_max_queue,
    )


def _openai(name: str, settings: Settings) -> Backend:
    from habla.backends.openai_compat import OpenAIBackend

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIBackend(
        name,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout,
        connect_timeout=settings.openai_connect_timeout,
        max_retries=settings.openai_max_retries,
        context_window=settings.openai_context_window,
        vision=name in settings.openai_vision_models,
    )


def _scripted(name: str, settings: Settings) -> Backend:
    record = settings.scripted_record_path
    if settings.scripted_file is not None:
        return ScriptedBackend.from_file(name, settings.scripted_file, record_path=record)
    return ScriptedBackend(name, [ScriptedReply("This is a scripted reply.")], record_path=record)


def describe_models(settings: Settings) -> list[tuple[str, bool, str]]:
    """``(model id, is default, status)`` for each served model, without loading any."""
    rows: list[tuple[str, bool, str]] = []
    for model_id in settings.served_models:
        try:
            backend = build_backend(model_id, settings)
            window = backend.capabilities.context_window
            status = f"ok (context {window} tokens)"
        except ConfigError as exc:
            status = f"not usable: {exc.message}"
        rows.append((model_id, model_id == settings.default_model, status))
    return rows
