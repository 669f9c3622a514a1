"""Request-scoped dependencies: the runtime and the principal a request acts for.

Every route that takes :data:`PrincipalDep` is authenticated: ``Authorization: Bearer``
with an API key or a sign-in token — one header form, one code path. In local mode (no
accounts, loopback only, decided at start) every request is the single local user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from habla.core.errors import AuthError
from habla.core.identity import LOCAL_PRINCIPAL, Principal
from habla.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_principal(request: Request, runtime: RuntimeDep) -> Principal:
    if runtime.local_mode:
        return LOCAL_PRINCIPAL
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("this server needs credentials: Authorization: Bearer <API key or token>")
    return await runtime.accounts.authenticate(header, ip=client_ip(request))


def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> str:
    return principal.user_id


PrincipalDep = Annotated[Principal, Depends(current_principal)]
UserDep = Annotated[str, Depends(current_user)]
