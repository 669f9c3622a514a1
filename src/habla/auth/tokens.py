"""Session tokens: HS256 JWTs issued at sign-in and checked on every request.

:class:`TokenCodec` signs ``{"sub": user_id, "ver": token_version, "role": role, "iat",
"exp", "iss": "habla"}`` and decodes with the algorithm pinned to HS256 and ``exp``,
``sub`` and ``ver`` required, so ``alg: none``, an algorithm swap, a forged or tampered
signature, a missing claim or an expired token all end in the same
:class:`~habla.core.errors.AuthError` with a generic message (the reason is kept on the
exception as ``reason`` for the audit log, never shown to the caller). Time comes from an
injected clock; PyJWT's own wall-clock checks are turned off and done here instead.

This module does not know users: whether ``ver`` is still current, and whether the user is
still enabled, is :class:`habla.auth.service.AccountService`'s business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from habla.core.errors import AuthError, ConfigError
from habla.core.identity import ROLES, Role

Clock = Callable[[], datetime]

ALGORITHM = "HS256"
ISSUER = "habla"
MIN_SECRET_BYTES = 32
DEFAULT_TTL_SECONDS = 12 * 3600
MAX_TOKEN_LENGTH = 4096  # ours are ~250 bytes; anything near this is not one of ours
INVALID_CREDENTIALS = "invalid credentials"


class TokenRejected(AuthError):
    """An unusable token; ``reason`` is for the audit log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(INVALID_CREDENTIALS)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    token_version: int
    role: Role
    expires_at: datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def looks_like_jwt(candidate: str) -> bool:
    return candidate.count(".") == 2 and len(candidate) <= MAX_TOKEN_LENGTH


class TokenCodec:
    def __init__(
        self,
        secret: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Clock = utc_now,
    ) -> None:
        if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the JWT secret is too short: use at least {MIN_SECRET_BYTES} random bytes"
                ' (e.g. python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        if ttl_seconds < 1:
            raise ConfigError("the token lifetime must be at least one second")
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenCodec(ttl={self._ttl})"  # never the secret

    def issue(self, *, user_id: str, token_version: int, role: Role) -> tuple[str, datetime]:
        """A signed token and the moment it expires (whole seconds, UTC)."""
        now = self._clock().replace(microsecond=0)
        expires_at = now + self._ttl
        claims = {
            "sub": user_id,
            "ver": token_version,
            "role": role,
            "iss": ISSUER,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires_at

    def decode(self, token: str) -> TokenClaims:
        """The verified claims. Raises :class:`TokenRejected` for anything else."""
        if not looks_like_jwt(token):
            raise TokenRejected("malformed token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": ["exp", "sub", "ver", "iss"],
                    # Checked below against the injected clock instead of the wall clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"bad token ({type(exc).__name__})") from None
        except (ValueError, TypeError):  # belt and braces: junk must only ever be AuthError
            raise TokenRejected("malformed token") from None
        return self._claims(claims)

    def _claims(self, claims: dict[str, object]) -> TokenClaims:
        sub, ver, role, exp = (claims.get(k) for k in ("sub", "ver", "role", "exp"))
        if not isinstance(sub, str) or not sub:
            raise TokenRejected("bad sub claim")
        if type(ver) is not int or ver < 0:
            raise TokenRejected("bad ver claim")
        if type(exp) is not int:
            raise TokenRejected("bad exp claim")
        known = next((r for r in ROLES if r == role), None)
        if known is None:
            raise TokenRejected("bad role claim")
        try:
            expires_at = datetime.fromtimestamp(exp, UTC)
        except (OverflowError, OSError, ValueError):
            raise TokenRejected("bad exp claim") from None
        if self._clock() >= expires_at:
            raise TokenRejected("expired token")
        return TokenClaims(user_id=sub, token_version=ver, role=known, expires_at=expires_at)
