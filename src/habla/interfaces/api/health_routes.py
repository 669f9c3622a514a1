"""Liveness and readiness. The only routes that will never need credentials."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from habla.interfaces.api.deps import RuntimeDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(runtime: RuntimeDep) -> dict[str, Any] | JSONResponse:
    model = runtime.models.default_id
    if runtime.models.is_ready():
        return {"status": "ready", "model": model}
    return JSONResponse({"status": "loading", "model": model}, status_code=503)
