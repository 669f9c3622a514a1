"""``habla streamlit``: runs the Streamlit chat app against a habla server.

It replaces this process with ``python -m streamlit run <the app file>``; the app is a
client of the HTTP API (URL from ``--api-url``, default this configuration's host and
port; API key from ``HABLA_API_KEY`` or the app's sidebar). It does not start a server.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from habla.core.errors import ConfigError
from habla.settings import Settings

APP_MODULE = "habla.interfaces.streamlit.app"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("streamlit", help="run the Streamlit chat app (extra: streamlit)")
    cmd.add_argument("--api-url", help="the habla server (default http://HABLA_HOST:HABLA_PORT)")
    cmd.add_argument("--port", type=int, default=8501, help="the app's port (default 8501)")
    cmd.add_argument("--address", default="127.0.0.1", help="the app's address")


def streamlit_command(args: argparse.Namespace) -> list[str]:
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError('the Streamlit app needs its extra: pip install "habla[streamlit]"')
    spec = importlib.util.find_spec(APP_MODULE)  # locates the file without importing it
    if spec is None or spec.origin is None:
        raise ConfigError(f"cannot find {APP_MODULE}; is habla installed completely?")
    return [
        *(sys.executable, "-m", "streamlit", "run", spec.origin),
        *("--server.port", str(args.port), "--server.address", args.address),
        *("--browser.gatherUsageStats", "false", "--server.headless", "true"),
    ]


def run_streamlit(settings: Settings, args: argparse.Namespace) -> int:
    command = streamlit_command(args)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    env = {**os.environ, "HABLA_API_URL": args.api_url or f"http://{host}:{settings.port}"}
    os.execve(command[0], command, env)  # noqa: S606 - our own interpreter and arguments
    return 0  # not reached
