"""``/v1/me``: who the caller is, and how much of their limits and quotas is left.

``/v1/me/usage`` names each limit the way the configuration does, so what an operator
sets and what a user sees read the same::

    {"user": {"id", "name", "role"}, "as_of": "2026-11-22T10:00:00Z",
     "limits": {"requests_per_minute": {"used", "limit", "remaining", "resets_in_seconds"},
                "concurrent_streams": {...}, "tokens_per_day": {...},
                "tokens_per_month": {...}, "cost_per_day": {...}, "cost_per_month": {...}}}

``limit`` and ``remaining`` are ``null`` for a limit that is not set. Token and cost
``used`` include what requests in flight have reserved.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from habla.core.identity import Principal
from habla.interfaces.api.deps import PrincipalDep, RuntimeDep
from habla.limits.base import Meter, UsageSnapshot

router = APIRouter(prefix="/v1/me")


@router.get("")
async def me(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "id": principal.user_id,
        "name": principal.name,
        "role": principal.role,
        "authenticated_by": principal.via,
    }


@router.get("/usage")
async def my_usage(principal: PrincipalDep, runtime: RuntimeDep) -> dict[str, Any]:
    metering = runtime.chat.metering
    user = {"id": principal.user_id, "name": principal.name, "role": principal.role}
    if metering is None:
        return {"user": user, "as_of": _iso(datetime.now(UTC).timestamp()), "limits": {}}
    return usage_json(principal, await metering.snapshot(principal))


def usage_json(principal: Principal, snapshot: UsageSnapshot) -> dict[str, Any]:
    return {
        "user": {"id": principal.user_id, "name": principal.name, "role": principal.role},
        "as_of": _iso(snapshot.as_of),
        "limits": {
            "requests_per_minute": _meter(snapshot.requests),
            "concurrent_streams": _meter(snapshot.streams),
            "tokens_per_day": _meter(snapshot.tokens_day),
            "tokens_per_month": _meter(snapshot.tokens_month),
            "cost_per_day": _meter(snapshot.cost_day),
            "cost_per_month": _meter(snapshot.cost_month),
        },
    }


def _meter(meter: Meter[int] | Meter[float]) -> dict[str, Any]:
    return {
        "used": meter.used,
        "limit": meter.limit,
        "remaining": meter.remaining,
        # Whole seconds, rounded up: "resets in 0 s" while it has not yet is misleading.
        "resets_in_seconds": max(0, math.ceil(meter.reset_seconds)),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
