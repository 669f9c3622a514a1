"""SEC-AUTH primitives: argon2id passwords, API key format, HS256 JWTs, the sign-in throttle.

The service that puts them together is tested in ``test_auth_service.py``. Time comes
from a fake clock; nothing here reads or asserts on the wall clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from habla.auth.api_keys import KEY_LENGTH, generate_key, hash_key, parse_key, same_secret
from habla.auth.passwords import Passwords, check_new_password
from habla.auth.throttle import MemorySignInThrottle, RefusalSampler
from habla.auth.tokens import TokenCodec, TokenRejected
from habla.core.errors import AuthError, ConfigError, InvalidRequest

SECRET = "test-secret-that-is-long-enough-for-hs512-too-0123456789abcdefghij"
FAST = {"time_cost": 1, "memory_cost_kib": 8, "parallelism": 1}


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return loaded


# -- passwords ---------------------------------------------------------------------------


def test_password_hash_and_verify() -> None:
    passwords = Passwords(**FAST)
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterY")
    assert not passwords.verify(stored, "")
    assert passwords.hash("correct horse battery") != stored  # salted


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$garbage"])
def test_verify_against_a_broken_hash_is_false(stored: str) -> None:
    assert Passwords(**FAST).verify(stored, "correct horse battery") is False


def test_verify_refuses_absurd_candidates_without_raising() -> None:
    passwords = Passwords(**FAST)
    stored = passwords.hash("correct horse battery")
    assert passwords.verify(stored, "x" * 100_000) is False
    assert passwords.verify(stored, "\ud800 lone surrogate") is False


def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="at least 12"):
        check_new_password("elevenchars")
    with pytest.raises(InvalidRequest):
        Passwords(**FAST).hash("short")
    with pytest.raises(InvalidRequest, match="too long"):
        check_new_password("x" * 1025)
    with pytest.raises(InvalidRequest, match="not valid text"):
        check_new_password("twelve chars \ud800")
    check_new_password("twelve chars")
    check_new_password("contraseña segura 🙂")


def test_needs_rehash_when_parameters_change() -> None:
    cheap = Passwords(**FAST)
    stronger = Passwords(time_cost=2, memory_cost_kib=16, parallelism=1)
    stored = cheap.hash("correct horse battery")
    assert not cheap.needs_rehash(stored)
    assert stronger.needs_rehash(stored)
    assert stronger.verify(stored, "correct horse battery")  # old hashes still verify
    assert cheap.needs_rehash("garbage")


# -- API keys ----------------------------------------------------------------------------


def test_key_format_and_hash() -> None:
    new = generate_key()
    assert re.fullmatch(r"hbl_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", new.key)
    assert len(new.key) == KEY_LENGTH
    assert new.key.split("_", 2)[1] == new.prefix
    assert new.key_hash == hashlib.sha256(new.key.encode()).hexdigest() == hash_key(new.key)
    secret = new.key[len("hbl_") + 8 + 1 :]
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32  # 256 random bits


def test_keys_do_not_repeat_and_use_the_whole_alphabet() -> None:
    keys = [generate_key() for _ in range(2000)]
    assert len({k.key for k in keys}) == len(keys)
    assert len({k.prefix for k in keys}) == len(keys)
    secrets_seen = set("".join(k.key[13:] for k in keys))
    assert secrets_seen == set(string.ascii_letters + string.digits + "-_")


def test_parse_accepts_a_real_key() -> None:
    new = generate_key()
    parsed = parse_key(new.key)
    assert parsed is not None
    assert (parsed.prefix, parsed.key_hash) == (new.prefix, new.key_hash)


def _mutations(key: str) -> list[str]:
    return [
        key + "x",
        key[:-1],
        " " + key,
        key + "\n",
        key.replace("hbl_", "HBL_"),
        key.replace("hbl_", "hbk_"),
        key[:4] + key[4:12].upper() + key[12:],  # the prefix is lowercase only
        key[:12] + "-" + key[13:],  # wrong separator
        key[:-1] + "=",
        key[:-1] + "é",
        key[:-1] + "\x00",
        key[:20] + "\u0430" + key[21:],  # Cyrillic a
    ]


def test_parse_rejects_anything_else() -> None:
    key = generate_key().key
    junk = [
        "",
        "hbl_",
        "' OR 1=1 --",
        "hbl_' OR 1=1 --",
        "Bearer " + key,
        "a" * KEY_LENGTH,
        "hbl_" + "'" * (KEY_LENGTH - 4),
        *_mutations(key),
    ]
    for candidate in junk:
        assert parse_key(candidate) is None, candidate


def test_same_secret_is_plain_equality() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", "abcd")
    assert same_secret("ñ", "ñ")


# -- tokens ------------------------------------------------------------------------------


def test_short_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="too short"):
        TokenCodec("x" * 31)
    with pytest.raises(ConfigError):
        TokenCodec("")
    TokenCodec("x" * 32)
    assert SECRET not in repr(TokenCodec(SECRET))


def test_token_round_trip() -> None:
    clock = FakeClock()
    codec = TokenCodec(SECRET, ttl_seconds=3600, clock=clock)
    token, expires_at = codec.issue(user_id="u1", token_version=3, role="admin")
    assert expires_at == clock.now + timedelta(hours=1)
    claims = codec.decode(token)
    assert (claims.user_id, claims.token_version, claims.role) == ("u1", 3, "admin")
    assert claims.expires_at == expires_at
    header = _unb64(token.split(".")[0])
    assert header["alg"] == "HS256"


def test_default_lifetime_is_twelve_hours() -> None:
    clock = FakeClock()
    _, expires_at = TokenCodec(SECRET, clock=clock).issue(user_id="u", token_version=0, role="user")
    assert expires_at - clock.now == timedelta(hours=12)


def test_expired_token_is_rejected() -> None:
    clock = FakeClock()
    codec = TokenCodec(SECRET, ttl_seconds=600, clock=clock)
    token, _ = codec.issue(user_id="u1", token_version=0, role="user")
    clock.advance(seconds=599)
    codec.decode(token)
    clock.advance(seconds=1)
    with pytest.raises(TokenRejected) as caught:
        codec.decode(token)
    assert caught.value.reason == "expired token"
    assert str(caught.value) == "invalid credentials"


def _signed(claims: dict[str, Any], *, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _claims(clock: FakeClock, **override: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "u1",
        "ver": 0,
        "role": "user",
        "iss": "habla",
        "iat": int(clock.now.timestamp()),
        "exp": int(clock.now.timestamp()) + 600,
    }
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


def test_forged_and_malformed_tokens_are_rejected() -> None:
    clock = FakeClock()
    codec = TokenCodec(SECRET, clock=clock)
    good, _ = codec.issue(user_id="u1", token_version=0, role="user")
    head, body, signature = good.split(".")
    tampered = _b64({**_unb64(body), "role": "admin"})
    other_secret = SECRET[::-1]
    forged = [
        _signed(_claims(clock), secret=other_secret),  # wrong key
        _signed(_claims(clock), algorithm="HS512"),  # algorithm swap, right key
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(clock))}.",  # alg none
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{tampered}.{signature}",
        f"{head}.{tampered}.{signature}",  # role raised, signature kept
        f"{head}.{body}.{signature[:-2]}AA",
        _signed(_claims(clock, exp=None)),  # no exp
        _signed(_claims(clock, sub=None)),
        _signed(_claims(clock, ver=None)),
        _signed(_claims(clock, iss="someone-else")),
        _signed(_claims(clock, ver="0")),
        _signed(_claims(clock, ver=True)),
        _signed(_claims(clock, ver=-1)),
        _signed(_claims(clock, sub="")),
        _signed(_claims(clock, role="root")),
        _signed(_claims(clock, exp=10**20)),
        _signed(_claims(clock, exp=int(clock.now.timestamp()) - 1)),
        "a.b.c",
        "..",
        "x" * 5000,
        "\ud800.\ud800.\ud800",
        f"{head}.{body}",
    ]
    for token in forged:
        with pytest.raises(AuthError) as caught:
            codec.decode(token)
        assert type(caught.value) is TokenRejected, token
        assert str(caught.value) == "invalid credentials"


# -- throttle ----------------------------------------------------------------------------


async def test_throttle_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = MemorySignInThrottle(max_tracked=100)
    for i in range(1000):
        await throttle.failed(f"user{i}", f"ip{i}", clock.now)
    assert len(throttle._accounts._hits) <= 100
    assert len(throttle._ips._hits) <= 100


def test_refusal_sampler() -> None:
    clock = FakeClock()
    sampler = RefusalSampler(per_minute=3)
    assert [sampler.allow("10.0.0.1", clock.now) for _ in range(5)] == [True] * 3 + [False] * 2
    assert sampler.allow("10.0.0.2", clock.now)
    clock.advance(seconds=61)
    assert sampler.allow("10.0.0.1", clock.now)
