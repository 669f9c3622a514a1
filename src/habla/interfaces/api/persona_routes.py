"""``GET /v1/personas``: the personas a caller may pick, each with a short description.

System prompts are public (OWASP LLM07), so the description is simply the start of the
prompt. This lists; it does not create or change personas (they come from configuration).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from habla.interfaces.api.deps import PrincipalDep, RuntimeDep

router = APIRouter(prefix="/v1")

DESCRIPTION_CHARS = 120


def describe(prompt: str) -> str:
    """The prompt's first line, cut at a word boundary to ``DESCRIPTION_CHARS``."""
    first = " ".join(prompt.strip().splitlines()[0].split()) if prompt.strip() else ""
    if len(first) <= DESCRIPTION_CHARS:
        return first
    cut = first[:DESCRIPTION_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


@router.get("/personas")
async def list_personas(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    personas = runtime.chat.personas
    data = [
        {"name": name, "description": describe(personas.prompt(name))} for name in personas.names
    ]
    return {"object": "list", "data": data}
