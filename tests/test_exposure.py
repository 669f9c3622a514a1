"""Start-up safety rules: local mode only on loopback, no weak secrets off loopback."""

from __future__ import annotations

import pytest

from habla.core.errors import ConfigError
from habla.runtime.exposure import check_exposure, is_loopback, weak_secret

STRONG = "9f1c2e7ab34d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.com", ""])
def test_other_addresses(host: str) -> None:
    assert not is_loopback(host)


def test_no_users_on_loopback_is_local_mode() -> None:
    exposure = check_exposure(host="127.0.0.1", users_exist=False, jwt_secret=None)
    assert exposure.local_mode
    assert "local mode" in exposure.message


def test_no_users_off_loopback_refuses_and_says_how_to_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        check_exposure(host="0.0.0.0", users_exist=False, jwt_secret=STRONG)
    assert "habla users add" in caught.value.message


@pytest.mark.parametrize("secret", [None, "", "short", "changeme" * 8, "a" * 64])
def test_weak_secrets_refuse_off_loopback(secret: str | None) -> None:
    assert weak_secret(secret) is not None
    with pytest.raises(ConfigError, match="HABLA_JWT_SECRET is weak"):
        check_exposure(host="0.0.0.0", users_exist=True, jwt_secret=secret)


def test_a_weak_secret_on_loopback_only_turns_sign_in_off() -> None:
    exposure = check_exposure(host="127.0.0.1", users_exist=True, jwt_secret="short")
    assert not exposure.local_mode
    assert "sign-in is off" in exposure.message


def test_strong_secret_off_loopback_is_fine() -> None:
    exposure = check_exposure(host="0.0.0.0", users_exist=True, jwt_secret=STRONG)
    assert not exposure.local_mode
    assert weak_secret(STRONG) is None
