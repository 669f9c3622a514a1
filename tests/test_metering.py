"""Limits and quotas in the engine: admitted after validation, settled however a reply ends."""

from __future__ import annotations

import asyncio

import pytest

from engine import ANA, BOB, build_service
from habla.backends.scripted import ScriptedBackend, ScriptedReply
from habla.chat.metering import Metering
from habla.chat.service import collect_reply
from habla.chat.turns import TurnInput
from habla.core.errors import InputTooLarge, QuotaExceeded, RateLimited
from habla.core.identity import Principal
from habla.core.messages import Message
from habla.limits.memory import MemoryLimiter
from habla.limits.policy import LimitPolicy, LimitsConfig, PriceTable


def metering(**policy: int | None) -> Metering:
    values: dict[str, int | None] = {"requests_per_minute": None, "concurrent_streams": None}
    values.update(policy)
    user = LimitPolicy(**values)  # type: ignore[arg-type]
    return Metering(MemoryLimiter(), LimitsConfig(user=user, admin=user), PriceTable())


def turn(principal: Principal = ANA, text: str = "hi", **kwargs: object) -> TurnInput:
    return TurnInput(principal=principal, messages=(Message.of("user", text),), **kwargs)  # type: ignore[arg-type]


async def test_requests_per_minute_is_per_user_and_refusals_store_nothing() -> None:
    service, store = build_service(
        [ScriptedBackend("t", [ScriptedReply("ok")])], metering=metering(requests_per_minute=2)
    )
    for _ in range(2):
        await collect_reply(await service.prepare(turn()))
    with pytest.raises(RateLimited) as refused:
        await service.prepare(turn(text="one too many"))
    assert refused.value.retry_after is not None and refused.value.retry_after > 0
    assert len(await store.list_conversations(user_id="ana")) == 2
    await collect_reply(await service.prepare(turn(BOB)))  # bob has his own window


async def test_bad_input_does_not_use_up_requests() -> None:
    service, _ = build_service(
        [ScriptedBackend("t", [ScriptedReply("ok")])], metering=metering(requests_per_minute=1)
    )
    with pytest.raises(InputTooLarge):
        await service.prepare(turn(max_tokens=10**6))
    await collect_reply(await service.prepare(turn()))


async def test_token_budget_is_reserved_then_settled_to_actual_use() -> None:
    meter = metering(tokens_per_day=200)
    service, _ = build_service([ScriptedBackend("t", [ScriptedReply("a b c")])], metering=meter)
    prepared = await service.prepare(turn(max_tokens=100))
    assert prepared.admission is not None
    reserved = prepared.admission.reserved_tokens
    assert reserved == prepared.window.prompt_tokens + 100
    _, finished = await collect_reply(prepared)
    snapshot = await meter.snapshot(ANA)
    assert snapshot.tokens_day.used == finished.usage.total_tokens < reserved
    with pytest.raises(QuotaExceeded):
        await service.prepare(turn(max_tokens=190))


async def test_concurrent_requests_never_overshoot_the_budget() -> None:
    meter = metering(tokens_per_day=500)
    replies = [ScriptedReply("w " * 40, delay=0.001)]
    service, _ = build_service([ScriptedBackend("t", replies)], metering=meter)

    async def one() -> int:
        try:
            prepared = await service.prepare(turn(max_tokens=40))
        except QuotaExceeded:
            return 0
        _, finished = await collect_reply(prepared)
        return finished.usage.total_tokens

    used = await asyncio.gather(*(one() for _ in range(20)))
    served = [u for u in used if u]
    assert 0 < len(served) < 20
    assert sum(served) <= 500
    assert (await meter.snapshot(ANA)).tokens_day.used == sum(served)


async def test_an_abandoned_stream_frees_its_slot_and_settles() -> None:
    meter = metering(concurrent_streams=1)
    backend = ScriptedBackend("t", [ScriptedReply("one two three four", delay=0.01)])
    service, _ = build_service([backend], metering=meter)
    first = await service.prepare(turn())
    with pytest.raises(RateLimited):
        await service.prepare(turn())  # the slot is taken until the first one ends
    events = first.stream()
    await anext(events)
    await events.aclose()
    await service.drain()
    snapshot = await meter.snapshot(ANA)
    assert snapshot.streams.used == 0
    assert 0 < snapshot.tokens_day.used < first.admission.reserved_tokens  # type: ignore[union-attr]
    await collect_reply(await service.prepare(turn()))
