"""Who a request acts for: the :class:`Principal` every channel hands the engine.

Values only; authentication (keys, passwords, tokens) lives in :mod:`habla.auth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")
Via = Literal["api_key", "jwt", "local", "telegram"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    name: str
    role: Role
    via: Via
    key_id: str | None = None  # the API key used, by id (never the key itself)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


LOCAL_PRINCIPAL = Principal(user_id="local", name="local", role="admin", via="local")
