"""What a user may spend: limit policies, model prices and per-role/per-user resolution.

:class:`LimitPolicy` is the set of limits one user is held to (requests per minute,
concurrent streams, token and cost budgets per UTC day and month). :class:`PriceTable`
turns token counts into cost. :class:`LimitsConfig` picks the policy for a
:class:`~habla.core.identity.Principal` from role defaults and per-user overrides.

Values are validated when they are built: a negative, NaN or infinite number is a
:class:`~habla.core.errors.ConfigError`, because a NaN budget silently disables
enforcement (``spent >= NaN`` is always false). This module only describes limits; the
limiters in :mod:`habla.limits.memory` and :mod:`habla.limits.redis` enforce them, and
reading them from settings is the composition root's job.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from habla.core.errors import ConfigError
from habla.core.identity import ROLES, Principal, Role

# Limiters keep counters as integers (tokens, and cost in 1e-9 currency units) and Redis
# runs Lua with doubles, exact only below 2**53. These caps keep every sum exact.
MAX_TOKENS_BUDGET = 10**15
MAX_COST_BUDGET = 1_000_000.0
MAX_RATE = 10**6

_INT_FIELDS = ("requests_per_minute", "concurrent_streams", "tokens_per_day", "tokens_per_month")
_FLOAT_FIELDS = ("cost_per_day", "cost_per_month")
_CAPS: dict[str, float] = {
    "requests_per_minute": MAX_RATE,
    "concurrent_streams": MAX_RATE,
    "tokens_per_day": MAX_TOKENS_BUDGET,
    "tokens_per_month": MAX_TOKENS_BUDGET,
    "cost_per_day": MAX_COST_BUDGET,
    "cost_per_month": MAX_COST_BUDGET,
}
POLICY_FIELDS: tuple[str, ...] = _INT_FIELDS + _FLOAT_FIELDS


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Limits for one user; ``None`` means unlimited, ``0`` means nothing is allowed."""

    requests_per_minute: int | None = 10
    concurrent_streams: int | None = 2
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    cost_per_day: float | None = None  # currency units (whatever the price table uses)
    cost_per_month: float | None = None

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            _check_int(name, getattr(self, name))
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            _check_float(name, value)
            if value is not None:
                # Normalise ints to float so equal policies compare and hash equal.
                object.__setattr__(self, name, float(value))

    def with_overrides(self, overrides: Mapping[str, Any]) -> LimitPolicy:
        """A copy with some fields replaced (validated); unknown names are errors."""
        unknown = sorted(set(overrides) - set(POLICY_FIELDS))
        if unknown:
            raise ConfigError(
                f"unknown limit {', '.join(unknown)}; known limits: {', '.join(POLICY_FIELDS)}"
            )
        return dataclasses.replace(self, **dict(overrides))


def _check_int(name: str, value: object) -> None:
    if value is None:
        return
    # bool is an int subclass; `True` as a rate limit is a typo, not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"limit {name} must be a whole number or unset, not {value!r}")
    if value < 0 or value > _CAPS[name]:
        raise ConfigError(f"limit {name} must be between 0 and {_CAPS[name]:g}, not {value}")


def _check_float(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"limit {name} must be a number or unset, not {value!r}")
    # `not (0 <= v <= cap)` is also true for NaN, which every ordered comparison fails.
    if not math.isfinite(value) or not (0 <= value <= _CAPS[name]):
        raise ConfigError(f"limit {name} must be between 0 and {_CAPS[name]:g}, not {value}")


def check_amount(name: str, value: float, *, integral: bool = False) -> None:
    """Rejects a negative, NaN or infinite reservation or usage (a caller's bug)."""
    if isinstance(value, bool) or (integral and not isinstance(value, int)):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")


# -- prices -------------------------------------------------------------------------------

# Kinds that run on the operator's own hardware: they cost nothing per token.
FREE_KINDS: tuple[str, ...] = ("llamacpp", "echo", "scripted", "transformers")

# Public list prices per 1M tokens (prompt, completion) in USD, as published by OpenAI in
# 2024-2025. Prices change: operators should set their own; these are only a starting point.
OPENAI_PRICES: dict[str, tuple[float, float]] = {
    "openai:gpt-4o": (2.50, 10.00),
    "openai:gpt-4o-mini": (0.15, 0.60),
}


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Model id → (prompt price, completion price) per 1M tokens.

    A model is priced by its exact id (``openai:gpt-4o``), then by a whole-kind entry
    (``openai:*``), then as free when its kind is in ``free_kinds``, then by ``default``.
    A model with none of these is a :class:`ConfigError` rather than free: pricing an
    unknown cloud model at zero would quietly switch cost budgets off. Use
    :meth:`missing` at start-up to find such models before a user does.
    """

    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    free_kinds: tuple[str, ...] = FREE_KINDS
    default: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        prices = {str(model): _check_price(model, price) for model, price in self.prices.items()}
        object.__setattr__(self, "prices", prices)
        if self.default is not None:
            object.__setattr__(self, "default", _check_price("default", self.default))

    def price(self, model: str) -> tuple[float, float]:
        """(prompt, completion) price per 1M tokens for ``model``."""
        found = self._lookup(model)
        if found is None:
            raise ConfigError(
                f"no price for model {model!r}: add it to the price table (or a default price)"
            )
        return found

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """What ``prompt_tokens`` in and ``completion_tokens`` out cost on ``model``."""
        check_amount("prompt_tokens", prompt_tokens, integral=True)
        check_amount("completion_tokens", completion_tokens, integral=True)
        prompt_price, completion_price = self.price(model)
        return (prompt_tokens * prompt_price + completion_tokens * completion_price) / 1_000_000

    def has_price(self, model: str) -> bool:
        return self._lookup(model) is not None

    def missing(self, models: Iterable[str]) -> list[str]:
        """The models in ``models`` this table cannot price (check these at start-up)."""
        return [model for model in models if not self.has_price(model)]

    def _lookup(self, model: str) -> tuple[float, float] | None:
        if model in self.prices:
            return self.prices[model]
        kind = model.split(":", 1)[0] if ":" in model else ""
        if kind and f"{kind}:*" in self.prices:
            return self.prices[f"{kind}:*"]
        if kind in self.free_kinds:
            return (0.0, 0.0)
        return self.default


def _check_price(model: str, price: object) -> tuple[float, float]:
    if not isinstance(price, tuple | list) or len(price) != 2:
        raise ConfigError(f"price for {model} must be (prompt, completion) per 1M tokens")
    checked: list[float] = []
    for value in price:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"price for {model} must be numbers, not {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"price for {model} must be finite and >= 0, not {value}")
        checked.append(float(value))
    return (checked[0], checked[1])


# -- per-role and per-user resolution -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Role defaults plus per-user partial overrides; :meth:`policy_for` resolves them.

    ``overrides`` maps a user id to some policy fields, applied on top of that user's
    role default (``{"u1": {"tokens_per_day": None}}`` lifts one user's daily budget).
    Every override is validated against every role when the config is built, so a bad
    value fails at start-up, not on that user's first request.
    """

    user: LimitPolicy = field(default_factory=LimitPolicy)
    admin: LimitPolicy = field(default_factory=LimitPolicy)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {str(uid): dict(values) for uid, values in self.overrides.items()}
        for uid, values in frozen.items():
            for role in ROLES:
                try:
                    self.role_default(role).with_overrides(values)
                except ConfigError as exc:
                    raise ConfigError(f"limits override for user {uid}: {exc.message}") from exc
        object.__setattr__(self, "overrides", frozen)

    def role_default(self, role: Role) -> LimitPolicy:
        return self.admin if role == "admin" else self.user

    def policy_for(self, principal: Principal) -> LimitPolicy:
        base = self.role_default(principal.role)
        values = self.overrides.get(principal.user_id)
        return base.with_overrides(values) if values else base

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LimitsConfig:
        """Builds from plain data, e.g. parsed JSON settings::

        {"user": {"tokens_per_day": 100000}, "admin": {"requests_per_minute": null},
         "users": {"u1": {"cost_per_month": 5.0}}}

        Omitted role fields keep :class:`LimitPolicy`'s defaults.
        """
        unknown = sorted(set(data) - {"user", "admin", "users"})
        if unknown:
            raise ConfigError(f"unknown limits section {', '.join(unknown)}")
        return cls(
            user=LimitPolicy().with_overrides(_section(data, "user")),
            admin=LimitPolicy().with_overrides(_section(data, "admin")),
            overrides={
                str(k): _mapping(f"users.{k}", v) for k, v in _section(data, "users").items()
            },
        )


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return _mapping(name, data.get(name) or {})


def _mapping(name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"limits section {name} must be a mapping, not {type(value).__name__}")
    return value
