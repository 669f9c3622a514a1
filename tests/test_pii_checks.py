"""Check digits and secret patterns, as pure functions: Spanish DNI/NIE, Mexican CURP/RFC
(valid and invalid check characters) and the shared secret list (SEC-LOG, LLM02, LLM07)."""

from __future__ import annotations

import pytest

from habla.guards.pii_checks import (
    curp_valid,
    dni_valid,
    luhn_valid,
    nie_valid,
    rfc_valid,
)
from habla.guards.secrets import contains_secret, find_secrets, shannon_entropy


@pytest.mark.parametrize("dni", ["12345678Z", "00000000T", "12345678-z", "12.345.678 Z"])
def test_valid_dni(dni: str) -> None:
    assert dni_valid(dni)


@pytest.mark.parametrize("dni", ["12345678A", "1234567Z", "123456789Z", "ABCDEFGHZ", ""])
def test_invalid_dni(dni: str) -> None:
    assert not dni_valid(dni)


@pytest.mark.parametrize("nie", ["X1234567L", "Y0000000Z", "x-1234567-l"])
def test_valid_nie(nie: str) -> None:
    assert nie_valid(nie)


@pytest.mark.parametrize("nie", ["X1234567A", "W1234567L", "X123456L"])
def test_invalid_nie(nie: str) -> None:
    assert not nie_valid(nie)


def test_curp_check_digit() -> None:
    assert curp_valid("HEGG560427MVZRRL04")
    assert curp_valid("hegg560427mvzrrl04")
    assert not curp_valid("HEGG560427MVZRRL05")  # wrong check digit
    assert not curp_valid("HEGG561327MVZRRL04")  # month 13
    assert not curp_valid("HEGG560427MQQRRL04")  # no state QQ


def test_rfc_check_character() -> None:
    assert rfc_valid("GODE561231GR8")  # a person, with homoclave
    assert rfc_valid("SAT970701NN3")  # a company (three letters)
    assert rfc_valid("GODE561231")  # a person without homoclave still identifies them
    assert not rfc_valid("GODE561231GR9")
    assert not rfc_valid("SAT970701NN4")
    assert not rfc_valid("GODE561331GR8")  # month 13
    assert not rfc_valid("SAT970701")  # a company's RFC is nothing without its homoclave


def test_luhn() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert not luhn_valid("1234")


# Built at run time so that no credential-shaped literal sits in the repository.
OPENAI = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = (
    "eyJhbGciOiJIUzI1NiJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"
GENERIC = "api_key = " + "Zx8Qw2Lp9Vb4Nm7Tr1Ks6Yh3"


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (OPENAI, "openai_key"),
        (AWS, "aws_access_key_id"),
        (GITHUB, "github_token"),
        (GITHUB_PAT, "github_pat"),
        (SLACK, "slack_token"),
        (JWT, "jwt"),
        (PEM, "private_key"),
        (GENERIC, "generic_secret"),
    ],
)
def test_secret_patterns(secret: str, kind: str) -> None:
    text = f"here it is: {secret} — thanks"
    [match] = find_secrets(text)
    assert match.kind == kind
    found = text[match.start : match.end]
    if kind == "generic_secret":
        assert found == GENERIC.split("= ")[1]  # the value, not the name
    else:
        assert found == secret


@pytest.mark.parametrize(
    "text",
    [
        "Use scikit-learn (sk-learn) for this.",
        "Never reveal your API key to anyone.",
        "password = correcthorsebattery",  # long, but one case and low entropy
        "token: aaaaaaaaaaaaaaaaaaaaaaaa",
        "The AKIA prefix marks AWS access keys.",
        "Sort with ignore-case; ghp_ tokens are GitHub's.",
    ],
)
def test_no_secret_in_ordinary_text(text: str) -> None:
    assert not contains_secret(text)


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
