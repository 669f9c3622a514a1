"""Building the engine's metering (limits, quotas, prices) from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from habla.chat.metering import Metering
from habla.core.errors import ConfigError
from habla.limits.base import Limiter
from habla.limits.memory import MemoryLimiter
from habla.limits.policy import LimitPolicy, LimitsConfig, PriceTable
from habla.settings import Settings

if TYPE_CHECKING:
    from habla.limits.redis_throttle import RedisSignInThrottle


def build_limiter(settings: Settings) -> Limiter:
    if settings.redis_url:
        from habla.limits.redis import RedisLimiter

        return RedisLimiter(settings.redis_url, key_prefix=settings.redis_key_prefix)
    return MemoryLimiter()


def build_signin_throttle(settings: Settings) -> RedisSignInThrottle | None:
    """On Redis, sign-in failures are counted across replicas; ``None`` means the
    in-process default (one node)."""
    if settings.redis_url:
        from habla.limits.redis_throttle import RedisSignInThrottle

        return RedisSignInThrottle(settings.redis_url, key_prefix=settings.redis_key_prefix)
    return None


def limits_config(settings: Settings) -> LimitsConfig:
    def policy(requests_per_minute: int | None, streams: int | None) -> LimitPolicy:
        return LimitPolicy(
            requests_per_minute=requests_per_minute,
            concurrent_streams=streams,
            tokens_per_day=settings.tokens_per_day,
            tokens_per_month=settings.tokens_per_month,
            cost_per_day=settings.cost_per_day,
            cost_per_month=settings.cost_per_month,
        )

    return LimitsConfig(
        user=policy(settings.user_requests_per_minute, settings.user_concurrent_streams),
        admin=policy(settings.admin_requests_per_minute, settings.admin_concurrent_streams),
    )


def price_table(settings: Settings) -> PriceTable:
    """Without a cost budget, an unpriced model simply costs 0. With one, every served
    model must have a price: an unpriced cloud model would silently switch budgets off."""
    budgets = settings.cost_per_day is not None or settings.cost_per_month is not None
    table = PriceTable(dict(settings.prices), default=None if budgets else (0.0, 0.0))
    missing = table.missing(settings.served_models)
    if missing:
        raise ConfigError(
            "a cost budget is set but these models have no price: "
            + ", ".join(missing)
            + ' (set HABLA_PRICES, e.g. {"openai:gpt-4o": [2.5, 10.0]} per 1M tokens)'
        )
    return table


def build_metering(settings: Settings, limiter: Limiter | None = None) -> Metering:
    return Metering(
        limiter=limiter or build_limiter(settings),
        config=limits_config(settings),
        prices=price_table(settings),
    )
