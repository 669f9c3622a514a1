"""Metering: the engine's use of limits — admit before generating, settle after.

Every channel goes through :class:`~habla.chat.service.ChatService`, so every channel gets
the same per-user policy. A request is admitted only after it passed validation, guards
and the context window (bad input never uses up a user's requests), and before the
backend is called (so a 429 is still a real HTTP status). The reservation is the prompt
plus the whole reply budget; settling replaces it with what was really used, whatever
way the reply ended.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from habla.core.errors import QuotaExceeded, RateLimited
from habla.core.events import Usage
from habla.core.identity import Principal
from habla.limits.base import Admission, Limiter, UsageSnapshot
from habla.limits.policy import LimitPolicy, LimitsConfig, PriceTable

log = logging.getLogger(__name__)


# user id -> that user's own limit overrides (e.g. from the accounts store); {} for none.
OverrideSource = Callable[[str], Awaitable[Mapping[str, int]]]
# Told of every request a limit refused: who, from where (origin), and the refusal. The
# runtime points it at the audit log.
RefusalHook = Callable[[Principal, str | None, RateLimited | QuotaExceeded], Awaitable[None]]


@dataclass
class Metering:
    limiter: Limiter
    config: LimitsConfig
    prices: PriceTable
    user_overrides: OverrideSource | None = None
    on_refused: RefusalHook | None = None

    async def policy(self, principal: Principal) -> LimitPolicy:
        policy = self.config.policy_for(principal)
        if self.user_overrides is None:
            return policy
        own = await self.user_overrides(principal.user_id)
        return policy.with_overrides(own) if own else policy

    async def admit(
        self,
        principal: Principal,
        model: str,
        prompt_tokens: int,
        max_tokens: int,
        *,
        origin: str | None = None,
    ) -> Admission:
        try:
            return await self.limiter.admit(
                principal.user_id,
                await self.policy(principal),
                reserve_tokens=prompt_tokens + max_tokens,
                reserve_cost=self.prices.cost(model, prompt_tokens, max_tokens),
            )
        except (RateLimited, QuotaExceeded) as refusal:
            await self._report(principal, origin, refusal)
            raise

    async def _report(
        self, principal: Principal, origin: str | None, refusal: RateLimited | QuotaExceeded
    ) -> None:
        if self.on_refused is None:
            return
        try:
            await self.on_refused(principal, origin, refusal)
        except Exception:  # the user must still get their 429, not a 500 about the audit
            log.exception("could not record a refusal for user %s", principal.user_id)

    async def settle(self, admission: Admission, model: str, usage: Usage) -> None:
        try:
            await self.limiter.settle(
                admission,
                used_tokens=usage.total_tokens,
                used_cost=self.prices.cost(model, usage.prompt_tokens, usage.completion_tokens),
            )
        except Exception:  # a lost settle only delays the slot's expiry; never mask the reply
            log.exception("could not settle usage for admission %s", admission.id)

    async def snapshot(self, principal: Principal) -> UsageSnapshot:
        return await self.limiter.snapshot(principal.user_id, await self.policy(principal))
