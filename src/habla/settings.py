"""Settings: every knob habla has, read once from ``HABLA_*`` environment variables and ``.env``.

Only :mod:`habla.runtime` and the CLI read this; adapters get plain constructor
arguments. Values are validated here, at start, so a typo fails loudly before serving.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from habla.core.errors import ConfigError
from habla.guards.injection import MAX_SCORE
from habla.guards.pii import ENTITIES as PII_ENTITIES
from habla.guards.pii import check_entities
from habla.guards.secrets import find_secrets

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and clearly."


def _csv(value: object) -> object:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HABLA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # Privacy: a refused value may be a secret (a key in a prompt): never echo inputs.
        hide_input_in_errors=True,
    )

    # Where the database and indexes live.
    data_dir: Path = Path("habla-data")
    database_url: str | None = None

    # Models. `default_model` is always served; `models` adds more ids ("kind:model").
    default_model: str = "llamacpp:smollm2"
    models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Extra GGUF files, name -> path, served as "llamacpp:name".
    llamacpp_models: dict[str, Path] = Field(default_factory=dict)
    llamacpp_n_ctx: int = Field(default=4096, ge=256, le=131072)
    llamacpp_threads: int | None = Field(default=None, ge=1, le=512)
    llamacpp_max_queue: int = Field(default=16, ge=1, le=10_000)
    scripted_file: Path | None = None
    scripted_record_path: Path | None = None

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("HABLA_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("HABLA_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_timeout: float = Field(default=60.0, gt=0, le=3600)
    openai_connect_timeout: float = Field(default=5.0, gt=0, le=600)
    openai_max_retries: int = Field(default=3, ge=0, le=10)
    openai_context_window: int = Field(default=128_000, ge=256)
    openai_vision_models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"]
    )

    # Personas: the default prompt, plus named ones (JSON in the env, or a TOML/JSON file).
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    personas: dict[str, str] = Field(default_factory=dict)
    personas_file: Path | None = None

    # Input limits (enforced by the engine's first guard).
    max_messages: int = Field(default=200, ge=1, le=100_000)
    max_message_chars: int = Field(default=100_000, ge=1)
    max_total_chars: int = Field(default=400_000, ge=1)
    max_tokens_cap: int = Field(default=4096, ge=1)
    default_max_tokens: int = Field(default=512, ge=1)

    # HTTP.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    sse_keepalive_seconds: float = Field(default=10.0, gt=0, le=300)
    store_api_chats: bool = False

    # Accounts. With no users and a loopback address habla runs single-user ("local mode").
    jwt_secret: SecretStr | None = None
    jwt_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    admin_name: str | None = Field(default=None, min_length=1, max_length=64)
    admin_password: SecretStr | None = None

    # Limits, per habla user, the same on every channel. None means unlimited.
    redis_url: str | None = None
    # Every key habla writes to Redis starts with this; deployments sharing one Redis
    # must each have their own.
    redis_key_prefix: str = Field(default="habla", min_length=1, max_length=100)
    user_requests_per_minute: int | None = Field(default=10, ge=1)
    admin_requests_per_minute: int | None = Field(default=60, ge=1)
    user_concurrent_streams: int | None = Field(default=2, ge=1)
    admin_concurrent_streams: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)
    tokens_per_month: int | None = Field(default=None, ge=1)
    cost_per_day: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    cost_per_month: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # Model id -> [price per 1M prompt tokens, per 1M completion tokens]; local models cost 0.
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)

    # Data at rest: encryption and retention
    # A base64 32-byte key (`habla keys new-data-key`) turns on AES-256-GCM for message
    # content and titles; old keys (comma-separated) stay readable until rotated out.
    encryption_key: SecretStr | None = None
    encryption_old_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Messages, usage rows and emptied conversations older than this are hard-deleted by a
    # sweeper in the server every retention_interval_seconds; None keeps everything.
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    retention_interval_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    purge_batch_size: int = Field(default=500, ge=1, le=100_000)

    @field_validator("encryption_old_keys", mode="before")
    @classmethod
    def _split_old_keys(cls, value: object) -> object:
        return _csv(value)

    @field_validator("retention_interval_seconds")
    @classmethod
    def _finite_interval(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    # Telegram bot (#4): token from BotFather; the webhook secret turns on POST
    # /telegram/webhook on the API; allowlist of numeric ids or @usernames.
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    telegram_allowed: Annotated[list[str], NoDecode] = Field(default_factory=list)
    telegram_idle_minutes: float = Field(default=60.0, gt=0, le=525_600, allow_inf_nan=False)
    telegram_edit_interval: float = Field(default=1.0, ge=0, le=60, allow_inf_nan=False)
    telegram_link_code_minutes: int = Field(default=10, ge=1, le=7 * 24 * 60)
    # Optional LDAP group check for linked users (ldap3, in the telegram extra).
    ldap_url: str | None = None
    ldap_bind_dn: str | None = None
    ldap_bind_password: SecretStr | None = None
    ldap_group_dn: str | None = None
    ldap_user_dn_template: str | None = None  # e.g. uid={name},ou=people,dc=example,dc=com
    ldap_member_attribute: str = "member"
    ldap_cache_seconds: float = Field(default=300.0, ge=0, le=86_400, allow_inf_nan=False)

    _split_telegram = field_validator("telegram_allowed", mode="before")(_csv)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram allows 1-256 of A-Z a-z 0-9 _ -; fewer than 32 is guessable.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{32,256}", value.get_secret_value()
        ):
            raise ValueError("must be 32-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    # Guards: injection and moderation (docs/guardrails.md).
    injection_action: Literal["block", "flag", "log"] = "block"
    persona_guards: dict[str, Literal["block", "flag", "log"]] = Field(default_factory=dict)
    # The bundled guard's score tops out at MAX_SCORE (1 over the classifier's cut-off): a
    # higher threshold would switch the guard off without saying so.
    injection_threshold: float = Field(default=1.0, gt=0, le=MAX_SCORE, allow_inf_nan=False)
    moderation: Literal["auto", "local", "openai", "off"] = "auto"
    moderate_output: bool = False
    moderation_fail: Literal["open", "closed"] = "open"
    moderation_model: str = Field(default="omni-moderation-latest", min_length=1, max_length=200)
    moderation_timeout: float = Field(default=5.0, gt=0, le=120, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_guards(self) -> Settings:
        if self.moderation == "openai" and self.openai_api_key is None:
            raise ValueError("moderation='openai' needs an OpenAI API key (HABLA_OPENAI_API_KEY)")
        return self

    # Privacy: PII masking and output guards (habla.runtime.privacy, docs/privacy.md).
    # Masking replaces PII with placeholders before the selected models see it and restores
    # them in the reply; pii_mask_models holds model ids, backend kinds, "remote" (every
    # backend that is not local) or "*".
    pii_mask: bool = True
    pii_entities: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(PII_ENTITIES))
    pii_mask_models: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["remote"])
    output_guards: bool = True
    prompt_leak_chars: int = Field(default=60, ge=20, le=10_000)

    _split_privacy_lists = field_validator("pii_entities", "pii_mask_models", mode="before")(_csv)

    @field_validator("pii_entities")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        return check_entities(value)

    @model_validator(mode="after")
    def _no_secret_in_prompts(self) -> Settings:
        """A system prompt is not a secret store (OWASP LLM07): refuse one holding a
        credential. The message names the persona and the kind, never the value."""
        try:
            prompts = self.all_personas()
        except ConfigError:
            prompts = {"default": self.system_prompt, **self.personas}  # the runtime reports it
        for persona, prompt in prompts.items():
            found = find_secrets(prompt)
            if found:
                raise ValueError(
                    f"the system prompt of persona {persona!r} contains a credential "
                    f"({found[0].kind}); system prompts are not secret, remove it"
                )
        return self

    _split_lists = field_validator("models", "cors_origins", "openai_vision_models", mode="before")(
        _csv
    )

    @field_validator("openai_timeout", "openai_connect_timeout", "sse_keepalive_seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.default_max_tokens > self.max_tokens_cap:
            raise ValueError("default_max_tokens must not exceed max_tokens_cap")
        for model, (prompt_price, completion_price) in self.prices.items():
            if not all(math.isfinite(p) and p >= 0 for p in (prompt_price, completion_price)):
                raise ValueError(f"prices for {model!r} must be finite and not negative")
        for persona, prompt in self.personas.items():
            if not persona or not prompt.strip():
                raise ValueError(f"persona {persona!r} needs a name and a prompt")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'habla.db').resolve()}"

    @property
    def served_models(self) -> list[str]:
        """The default model first, then the others, without duplicates."""
        ids = [self.default_model, *self.models]
        ids += [f"llamacpp:{name}" for name in self.llamacpp_models]
        return list(dict.fromkeys(ids))

    def all_personas(self) -> dict[str, str]:
        """``default`` plus configured personas; the file wins over the environment."""
        personas = {"default": self.system_prompt, **self.personas}
        if self.personas_file is not None:
            personas.update(load_personas_file(self.personas_file))
        return personas


def load_personas_file(path: Path) -> dict[str, str]:
    """Read ``{name: prompt}`` from a ``.toml`` or ``.json`` file."""
    from habla.core.errors import ConfigError

    try:
        raw = path.read_text(encoding="utf-8")
        data: Any = tomllib.loads(raw) if path.suffix == ".toml" else json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read personas from {path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("personas"), dict):
        data = data["personas"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise ConfigError(f"{path} must map persona names to non-empty prompts")
    return dict(data)
