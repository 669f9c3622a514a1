"""Limit policies, the price table, per-role/per-user resolution and the period clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from habla.core.errors import ConfigError
from habla.core.identity import Principal
from habla.limits.base import Periods
from habla.limits.policy import OPENAI_PRICES, LimitPolicy, LimitsConfig, PriceTable
from habla.limits.rules import duration

ALICE = Principal(user_id="alice", name="Alice", role="user", via="api_key")
ROOT = Principal(user_id="root", name="Root", role="admin", via="jwt")

# -- LimitPolicy --------------------------------------------------------------------------


def test_defaults() -> None:
    policy = LimitPolicy()
    assert (policy.requests_per_minute, policy.concurrent_streams) == (10, 2)
    assert policy.tokens_per_day is None and policy.cost_per_month is None


@pytest.mark.parametrize(
    "field",
    ["tokens_per_day", "tokens_per_month", "cost_per_day", "cost_per_month"],
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1, -0.5])
def test_nan_infinite_and_negative_budgets_are_config_errors(field: str, bad: Any) -> None:
    # A NaN budget must never switch enforcement off (`spent >= nan` is always False).
    with pytest.raises(ConfigError, match=field):
        LimitPolicy(**{field: bad})


@pytest.mark.parametrize("field", ["requests_per_minute", "concurrent_streams"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -1, 2.5, True, "10"])
def test_rates_must_be_whole_non_negative_numbers(field: str, bad: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        LimitPolicy(**{field: bad})


def test_token_budgets_must_be_whole_numbers() -> None:
    with pytest.raises(ConfigError, match="tokens_per_day"):
        LimitPolicy(tokens_per_day=10.5)  # type: ignore[arg-type]


def test_budgets_too_large_to_count_exactly_are_rejected() -> None:
    with pytest.raises(ConfigError):
        LimitPolicy(tokens_per_month=10**16)
    with pytest.raises(ConfigError):
        LimitPolicy(cost_per_month=1e7)


def test_zero_and_none_are_valid_and_costs_normalise_to_float() -> None:
    policy = LimitPolicy(requests_per_minute=0, concurrent_streams=None, cost_per_day=3)
    assert policy.cost_per_day == 3.0 and isinstance(policy.cost_per_day, float)
    assert policy == LimitPolicy(requests_per_minute=0, concurrent_streams=None, cost_per_day=3.0)


def test_overrides_are_validated_and_unknown_names_refused() -> None:
    policy = LimitPolicy().with_overrides({"tokens_per_day": 500, "requests_per_minute": None})
    assert (policy.tokens_per_day, policy.requests_per_minute) == (500, None)
    with pytest.raises(ConfigError, match="unknown limit tokens_per_year"):
        LimitPolicy().with_overrides({"tokens_per_year": 5})
    with pytest.raises(ConfigError):
        LimitPolicy().with_overrides({"cost_per_day": math.nan})


# -- PriceTable ---------------------------------------------------------------------------


def test_cost_per_million_tokens() -> None:
    table = PriceTable({"openai:gpt-4o": (2.5, 10.0)})
    assert table.cost("openai:gpt-4o", 1_000_000, 0) == pytest.approx(2.5)
    assert table.cost("openai:gpt-4o", 1000, 500) == pytest.approx(0.0025 + 0.005)


@pytest.mark.parametrize("model", ["llamacpp:smollm2", "echo:test", "scripted:demo"])
def test_local_kinds_are_free(model: str) -> None:
    assert PriceTable().cost(model, 10_000, 10_000) == 0.0


def test_unknown_cloud_model_is_an_error_not_free() -> None:
    table = PriceTable(OPENAI_PRICES)
    assert table.has_price("openai:gpt-4o-mini")
    with pytest.raises(ConfigError, match="no price for model 'openai:o9'"):
        table.cost("openai:o9", 1, 1)
    assert table.missing(["openai:gpt-4o", "openai:o9", "echo:x"]) == ["openai:o9"]


def test_kind_wildcard_and_default_prices() -> None:
    table = PriceTable({"openai:*": (0.0, 0.0), "openai:gpt-4o": (2.5, 10.0)}, default=(1, 2))
    assert table.price("openai:gpt-4o") == (2.5, 10.0)  # the exact id wins
    assert table.price("openai:my-vllm-model") == (0.0, 0.0)
    assert table.price("other:model") == (1.0, 2.0)


@pytest.mark.parametrize("bad", [(math.nan, 1.0), (1.0, math.inf), (-1.0, 0.0), (1.0,), "x"])
def test_bad_prices_are_config_errors(bad: Any) -> None:
    with pytest.raises(ConfigError):
        PriceTable({"openai:gpt-4o": bad})
    with pytest.raises(ConfigError):
        PriceTable(default=bad)


def test_negative_token_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="prompt_tokens"):
        PriceTable().cost("echo:x", -1, 0)


# -- LimitsConfig -------------------------------------------------------------------------


def test_role_defaults_and_user_overrides() -> None:
    config = LimitsConfig(
        user=LimitPolicy(tokens_per_day=1000),
        admin=LimitPolicy(requests_per_minute=None, concurrent_streams=None),
        overrides={"alice": {"tokens_per_day": 5000, "cost_per_month": 2.0}},
    )
    alice = config.policy_for(ALICE)
    assert (alice.tokens_per_day, alice.cost_per_month, alice.requests_per_minute) == (
        5000,
        2.0,
        10,
    )
    bob = Principal(user_id="bob", name="Bob", role="user", via="telegram")
    assert config.policy_for(bob) == LimitPolicy(tokens_per_day=1000)
    assert config.policy_for(ROOT).requests_per_minute is None


def test_an_override_applies_on_top_of_the_users_role() -> None:
    config = LimitsConfig(
        admin=LimitPolicy(requests_per_minute=None), overrides={"root": {"tokens_per_day": 9}}
    )
    root = config.policy_for(ROOT)
    assert (root.requests_per_minute, root.tokens_per_day) == (None, 9)


def test_bad_overrides_fail_when_the_config_is_built() -> None:
    with pytest.raises(ConfigError, match="user alice"):
        LimitsConfig(overrides={"alice": {"cost_per_day": math.nan}})
    with pytest.raises(ConfigError, match="unknown limit"):
        LimitsConfig(overrides={"alice": {"tokens": 5}})


def test_from_dict() -> None:
    config = LimitsConfig.from_dict(
        {
            "user": {"tokens_per_day": 100_000},
            "admin": {"requests_per_minute": None},
            "users": {"alice": {"cost_per_month": 5}},
        }
    )
    assert config.user == LimitPolicy(tokens_per_day=100_000)
    assert config.admin.requests_per_minute is None and config.admin.concurrent_streams == 2
    assert config.policy_for(ALICE).cost_per_month == 5.0
    with pytest.raises(ConfigError, match="unknown limits section"):
        LimitsConfig.from_dict({"guests": {}})
    with pytest.raises(ConfigError, match="must be a mapping"):
        LimitsConfig.from_dict({"user": [1, 2]})


# -- periods and header formatting --------------------------------------------------------


def test_periods_are_utc_calendar_day_and_month() -> None:
    now = datetime(2024, 12, 31, 23, 0, tzinfo=UTC).timestamp()
    periods = Periods.at(now)
    assert (periods.day, periods.month) == ("20241231", "202412")
    assert periods.day_reset == pytest.approx(3600.0)
    assert periods.month_reset == pytest.approx(3600.0)  # December rolls into January

    leap = Periods.at(datetime(2024, 2, 29, 0, 0, tzinfo=UTC).timestamp())
    assert (leap.day, leap.day_reset, leap.month_reset) == ("20240229", 86400.0, 86400.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.02, "20ms"), (0.0, "0ms"), (1.0, "1s"), (44.2, "45s"), (360, "6m0s"), (10921, "3h2m1s")],
)
def test_header_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text
