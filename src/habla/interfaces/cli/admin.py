"""``habla users …``, ``habla keys …``, ``habla audit tail``: accounts from the terminal.

Whoever runs these already holds the database, so they act as the ``cli`` actor with
admin rights; every change is audited like one made over HTTP. Keys are printed once.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import replace

from habla.core.identity import Principal
from habla.interfaces.cli.data import add_key_parsers as add_data_key_parsers
from habla.runtime import Runtime
from habla.settings import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    add = users.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", choices=["admin", "user"], default="user")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--no-password", action="store_true", help="API keys only, no sign-in")
    users.add_parser("list", help="list users")
    for action in ("disable", "enable", "usage"):
        users.add_parser(action, help=f"{action} a user").add_argument("name")
    role = users.add_parser("set-role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=["admin", "user"])
    # Telegram (#4): a one-time code the user sends to the bot as /link CODE.
    users.add_parser(
        "link-telegram", help="print a one-time code that links a Telegram account to NAME"
    ).add_argument("name")
    limits = users.add_parser(
        "set-limits",
        help="override the server-wide limits for one user",
        description="Each option takes a whole number, or 'default' to fall back to the "
        "server-wide value. Options left out keep their current setting.",
    )
    limits.add_argument("name")
    for option in LIMIT_OPTIONS:
        limits.add_argument(f"--{option.replace('_', '-')}", type=_limit_value, metavar="N")

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create an API key (printed once)")
    create.add_argument("user")
    create.add_argument("--name", default="api")
    keys.add_parser("list", help="list API keys").add_argument("--user")
    keys.add_parser("revoke", help="revoke an API key").add_argument("key_id")
    add_data_key_parsers(keys)  # Data at rest: new-data-key, rotate-data-key

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="action", required=True
    )
    audit.add_parser("tail", help="the newest audit entries").add_argument(
        "-n", type=int, default=50, dest="limit"
    )


LIMIT_OPTIONS = ("requests_per_minute", "tokens_per_day", "tokens_per_month")
_DEFAULT = -1  # "back to the server-wide value", distinct from "not given" (None)


def _limit_value(text: str) -> int:
    if text.strip().lower() == "default":
        return _DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or 'default'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 (or 'default')")
    return value


def _password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("habla: the passwords differ")
    return first


async def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    async with Runtime.open(settings, load_models=False) as runtime:
        handler = {"users": _users, "keys": _keys, "audit": _audit}[args.command]
        return await handler(runtime, args)


async def _users(runtime: Runtime, args: argparse.Namespace) -> int:
    accounts = runtime.accounts
    if args.action == "add":
        user = await accounts.create_user(None, args.name, args.role, _password(args))
        print(f"added {user.role} {user.name} ({user.id})")
    elif args.action == "list":
        for user in await accounts.list_users(None):
            state = "enabled" if user.enabled else "disabled"
            print(f"{user.name:<24} {user.role:<6} {state:<9} {user.id}")
    elif args.action == "disable":
        await accounts.disable(None, args.name)
        print(f"disabled {args.name}: their keys and tokens stop working now")
    elif args.action == "enable":
        await accounts.enable(None, args.name)
        print(f"enabled {args.name}")
    elif args.action == "set-role":
        await accounts.set_role(None, args.name, args.role)
        print(f"{args.name} is now {args.role}; their sign-in tokens were invalidated")
    elif args.action == "set-limits":
        await _set_limits(runtime, args)
    elif args.action == "usage":
        await _usage(runtime, args.name)
    elif args.action == "link-telegram":  # Telegram (#4)
        from habla.runtime.telegram import build_telegram

        code = await build_telegram(runtime).access.create_link_code(None, args.name)
        minutes = runtime.settings.telegram_link_code_minutes
        print(f"send this to the bot within {minutes} minutes (single use): /link {code}")
    return 0


async def _set_limits(runtime: Runtime, args: argparse.Namespace) -> None:
    given = {name: getattr(args, name) for name in LIMIT_OPTIONS}
    if all(value is None for value in given.values()):
        raise SystemExit(
            "habla: name at least one of --requests-per-minute, --tokens-per-day, "
            "--tokens-per-month (a number, or 'default')"
        )
    current = (await runtime.accounts.get_user(None, args.name)).limits
    changes = {name: None if v == _DEFAULT else v for name, v in given.items() if v is not None}
    user = await runtime.accounts.set_limits(None, args.name, replace(current, **changes))
    for name in LIMIT_OPTIONS:
        value = getattr(user.limits, name)
        shown = "server default" if value is None else str(value)
        print(f"{user.name} {name.replace('_', ' ')}: {shown}")


async def _usage(runtime: Runtime, name: str) -> None:
    user = await runtime.accounts.get_user(None, name)
    metering = runtime.chat.metering
    assert metering is not None
    snapshot = await metering.snapshot(Principal(user.id, user.name, user.role, "api_key"))
    for label, meter in (
        ("requests (last minute)", snapshot.requests),
        ("streams open", snapshot.streams),
        ("tokens today", snapshot.tokens_day),
        ("tokens this month", snapshot.tokens_month),
        ("cost today", snapshot.cost_day),
        ("cost this month", snapshot.cost_month),
    ):
        limit = "unlimited" if meter.limit is None else f"of {meter.limit}"
        left = "" if meter.remaining is None else f", {meter.remaining} left"
        print(f"{label:<24} {meter.used} {limit}{left}")


async def _keys(runtime: Runtime, args: argparse.Namespace) -> int:
    accounts = runtime.accounts
    if args.action == "create":
        key, record = await accounts.create_key(None, args.user, args.name)
        print(f"key {record.id} for {args.user} (shown once, store it now):")
        print(key)
    elif args.action == "list":
        for key_record in await accounts.list_keys(None, user_name=args.user):
            state = "revoked" if key_record.revoked_at else "active"
            print(f"{key_record.id}  {key_record.prefix}…  {key_record.name:<16} {state}")
    elif args.action == "revoke":
        await accounts.revoke_key(None, args.key_id)
        print(f"revoked {args.key_id}")
    return 0


async def _audit(runtime: Runtime, args: argparse.Namespace) -> int:
    for row in await runtime.accounts.audit_tail(None, args.limit):
        where = f" from {row.ip}" if row.ip else ""
        detail = f" ({row.detail})" if row.detail else ""
        print(f"{row.at.isoformat()} {row.actor} {row.action} {row.target}{where}{detail}")
    return 0
