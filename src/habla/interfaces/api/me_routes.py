"""``/v1/me``: who the caller is, and how much of their limits and quotas is left."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from habla.interfaces.api.deps import PrincipalDep, RuntimeDep

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
    if metering is None:
        return {"user_id": principal.user_id, "limits": None}
    snapshot = await metering.snapshot(principal)
    return dataclasses.asdict(snapshot)
