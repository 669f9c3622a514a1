"""Request-scoped dependencies: the runtime and the user a request acts for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from habla.runtime import LOCAL_USER, Runtime


def get_runtime(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def current_user(request: Request) -> str:
    """Single-user mode until accounts exist: every request is the local user."""
    return LOCAL_USER


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
UserDep = Annotated[str, Depends(current_user)]
