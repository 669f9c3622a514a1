"""The guards' data files shipped in the package, and TOML read with a clear error.

It only reads: what a file means, and whether its content is valid, is each guard's job.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from habla.core.errors import ConfigError


def data_file(name: str) -> bytes:
    """The bytes of ``habla/guards/data/<name>``."""
    return resources.files("habla.guards").joinpath(f"data/{name}").read_bytes()


def data_text(name: str) -> str:
    return data_file(name).decode("utf-8")


def parse_toml(text: str, what: str) -> dict[str, Any]:
    """``text`` as TOML; ``what`` names the document in the error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what}: not valid TOML: {exc}") from exc
