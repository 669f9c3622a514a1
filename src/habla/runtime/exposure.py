"""Start-up safety: who may reach this server, and is it protected enough for that?

* No users and a loopback address: single-user "local mode", announced at start.
* No users (and no bootstrap admin) on any other address: refuse to start.
* A missing, short or placeholder JWT secret with users, off loopback: refuse to start.
  (A proxy that accepted any key when its master key was left at a default is the
  incident behind this rule.)

This module decides; it does not authenticate requests.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from habla.core.errors import ConfigError

MIN_SECRET_BYTES = 32
PLACEHOLDERS = ("changeme", "change-me", "secret", "password", "default", "example", "xxx")


@dataclass(frozen=True, slots=True)
class Exposure:
    local_mode: bool
    message: str


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def weak_secret(secret: str | None) -> str | None:
    """Why ``secret`` is too weak, or None when it is fine."""
    if not secret:
        return "it is not set"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"it is shorter than {MIN_SECRET_BYTES} bytes"
    lowered = secret.lower()
    if any(word in lowered for word in PLACEHOLDERS) or len(set(secret)) < 8:
        return "it looks like a placeholder"
    return None


def check_exposure(*, host: str, users_exist: bool, jwt_secret: str | None) -> Exposure:
    loopback = is_loopback(host)
    if not users_exist:
        if loopback:
            return Exposure(
                True,
                "local mode: no users are configured, so every request acts as the single "
                f"local user; this is only allowed because {host} is a loopback address",
            )
        raise ConfigError(
            f"refusing to serve on {host} without accounts: anyone who can reach it could "
            "use it. Create an admin first (habla users add NAME --role admin, or set "
            "HABLA_ADMIN_NAME and HABLA_ADMIN_PASSWORD), set HABLA_JWT_SECRET to 32+ random "
            "bytes (e.g. `openssl rand -hex 32`), or bind to 127.0.0.1"
        )
    problem = weak_secret(jwt_secret)
    if problem is not None and not loopback:
        raise ConfigError(
            f"refusing to serve on {host}: HABLA_JWT_SECRET is weak ({problem}). "
            "Set it to 32+ random bytes, e.g. `openssl rand -hex 32`"
        )
    message = "accounts: every route except /healthz, /readyz and sign-in needs credentials"
    if problem is not None:
        message += f"; password sign-in is off because HABLA_JWT_SECRET {problem}"
    return Exposure(False, message)
