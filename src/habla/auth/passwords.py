"""Password hashing: argon2id through ``argon2-cffi``, and the length rule for new passwords.

:class:`Passwords` hashes, verifies and says when a stored hash was made with weaker
settings than today's. Verifying answers ``False`` for a wrong password, a malformed hash
or an over-long candidate; it never raises for bad input. Hashing is deliberately slow
and CPU-bound: callers on an event loop run it in a worker thread
(:class:`habla.auth.service.AccountService` does).

This module does not store anything, throttle guesses or decide who may change whose
password.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, UnsupportedParametersError, VerificationError

from habla.core.errors import InvalidRequest

MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase; bounds the work an anonymous sign-in can cause.
MAX_PASSWORD_LENGTH = 1024


def check_new_password(password: str) -> None:
    """Raises :class:`InvalidRequest` for a password too short (or absurdly long) to set."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters",
            param="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"the password is too long: use at most {MAX_PASSWORD_LENGTH} characters",
            param="password",
        )
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("the password is not valid text", param="password") from None


class Passwords:
    """argon2id with the library's RFC 9106 defaults (t=3, 64 MiB, p=4) unless told.

    Tests may pass cheaper parameters; production code uses the defaults.
    """

    def __init__(
        self, *, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        """The encoded hash (``$argon2id$...``) of a password that passes the length rule."""
        check_new_password(password)
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """``True`` only when ``password`` matches; ``False`` for anything else."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError, UnsupportedParametersError):
            return False
        except UnicodeEncodeError:  # a lone surrogate cannot be anyone's password
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, UnsupportedParametersError, ValueError):
            return True
