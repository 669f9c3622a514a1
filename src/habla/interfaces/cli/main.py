"""``habla`` — the command-line entry point. Parses arguments and dispatches; the work is
in the modules each subcommand names. Errors become one readable line and an exit code:
2 for configuration problems, 1 for everything else, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from habla import __version__
from habla.core.errors import HablaError
from habla.interfaces.cli.admin import add_parsers as add_admin_parsers
from habla.interfaces.cli.admin import run_admin
from habla.interfaces.cli.data import DATA_KEY_ACTIONS, add_purge_parser, run_data
from habla.interfaces.cli.streamlit_cmd import add_parser as add_streamlit_parser
from habla.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="habla", description="Self-hostable chatbot platform.")
    parser.add_argument("--version", action="version", version=f"habla {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP API (OpenAI-compatible) on HOST:PORT")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, HABLA_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, HABLA_PORT)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])

    chat = sub.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--model", help="model id, e.g. llamacpp:smollm2")
    chat.add_argument("--persona", help="persona name (default: default)")
    chat.add_argument("--conversation", help="continue a stored conversation by id")
    chat.add_argument("--max-tokens", type=int, help="reply budget in tokens")

    sub.add_parser("models", help="list the configured models")
    add_admin_parsers(sub)
    add_purge_parser(sub)  # Data at rest
    # Telegram bot (#4): `habla telegram`, `habla telegram set-webhook URL`.
    from habla.interfaces.telegram.cli import add_parser as add_telegram_parser

    add_telegram_parser(sub)
    add_streamlit_parser(sub)  # Streamlit app (issue #6)
    return parser


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SystemExit(f"habla: bad configuration: {problems}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    settings = _load_settings()
    try:
        if args.command == "serve":
            from habla.interfaces.cli.serve import serve

            return serve(settings, host=args.host, port=args.port, log_level=args.log_level)
        if args.command == "chat":
            from habla.interfaces.cli.chat import ChatOptions, run_chat

            options = ChatOptions(args.model, args.persona, args.conversation, args.max_tokens)
            return asyncio.run(run_chat(settings, options))
        # Data at rest: purge, keys new-data-key / rotate-data-key.
        if args.command == "purge" or getattr(args, "action", None) in DATA_KEY_ACTIONS:
            return asyncio.run(run_data(settings, args))
        if args.command in ("users", "keys", "audit"):
            return asyncio.run(run_admin(settings, args))
        if args.command == "telegram":  # Telegram bot (#4)
            from habla.interfaces.telegram.cli import run_telegram

            return run_telegram(settings, args)
        if args.command == "models":
            from habla.interfaces.cli.models import print_models

            return print_models(settings)
        if args.command == "streamlit":  # Streamlit app (issue #6)
            from habla.interfaces.cli.streamlit_cmd import run_streamlit

            return run_streamlit(settings, args)
    except HablaError as exc:
        print(f"habla: {exc.message}", file=sys.stderr)
        return 2 if exc.code == "config_error" else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(main())
