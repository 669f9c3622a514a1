"""Accounts over HTTP: sign-in, your own API keys, and user administration (admins).

Sign-in is the only route here without credentials. Refusals of admin actions answer
403; objects that are not the caller's answer 404.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from habla.auth.records import ApiKeyRecord, UserLimits, UserRecord
from habla.interfaces.api.deps import PrincipalDep, RuntimeDep, client_ip

router = APIRouter(prefix="/v1")


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="api", min_length=1, max_length=64)
    user: str | None = Field(default=None, max_length=64)  # admins: for someone else


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "user"] = "user"
    password: str | None = Field(default=None, max_length=1024)


class LimitsIn(BaseModel):
    """A user's own limits; ``null`` (or leaving one out) means the server-wide value."""

    model_config = ConfigDict(extra="forbid")
    requests_per_minute: int | None = Field(default=None, ge=1, strict=True)
    tokens_per_day: int | None = Field(default=None, ge=1, strict=True)
    tokens_per_month: int | None = Field(default=None, ge=1, strict=True)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "user"] | None = None
    enabled: bool | None = None
    limits: LimitsIn | None = None  # replaces the user's overrides as a whole


def key_json(key: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }


def user_json(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "enabled": user.enabled,
        "created_at": user.created_at.isoformat(),
        "limits": {
            "requests_per_minute": user.limits.requests_per_minute,
            "tokens_per_day": user.limits.tokens_per_day,
            "tokens_per_month": user.limits.tokens_per_month,
        },
    }


@router.post("/auth/token")
async def sign_in(body: SignIn, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    token, expires_at = await runtime.accounts.sign_in(
        body.name, body.password, ip=client_ip(request)
    )
    return {"access_token": token, "token_type": "bearer", "expires_at": expires_at.isoformat()}


@router.get("/keys")
async def list_keys(principal: PrincipalDep, runtime: RuntimeDep) -> dict[str, Any]:
    keys = await runtime.accounts.list_keys(principal)
    return {"object": "list", "data": [key_json(k) for k in keys]}


@router.post("/keys", status_code=201)
async def create_key(
    body: NewKey, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    owner = body.user or principal.name
    key, record = await runtime.accounts.create_key(
        principal, owner, body.name, ip=client_ip(request)
    )
    return {**key_json(record), "key": key}  # shown once, never again


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(
    key_id: str, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> Response:
    await runtime.accounts.revoke_key(principal, key_id, ip=client_ip(request))
    return Response(status_code=204)


@router.get("/users")
async def list_users(principal: PrincipalDep, runtime: RuntimeDep) -> dict[str, Any]:
    users = await runtime.accounts.list_users(principal)
    return {"object": "list", "data": [user_json(u) for u in users]}


@router.post("/users", status_code=201)
async def create_user(
    body: NewUser, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    user = await runtime.accounts.create_user(
        principal, body.name, body.role, body.password, ip=client_ip(request)
    )
    return user_json(user)


@router.patch("/users/{name}")
async def change_user(
    name: str, body: UserChange, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, Any]:
    accounts, ip = runtime.accounts, client_ip(request)
    user = None
    if body.role is not None:
        user = await accounts.set_role(principal, name, body.role, ip=ip)
    if body.enabled is True:
        user = await accounts.enable(principal, name, ip=ip)
    elif body.enabled is False:
        user = await accounts.disable(principal, name, ip=ip)
    if body.limits is not None:
        limits = UserLimits(**body.limits.model_dump())
        user = await accounts.set_limits(principal, name, limits, ip=ip)
    if user is None:
        user = await accounts.get_user(principal, name)
    return user_json(user)
