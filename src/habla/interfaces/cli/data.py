"""``habla keys new-data-key|rotate-data-key`` and ``habla purge``: data at rest from the
terminal.

``new-data-key`` only prints a key; it touches no database. The others open the runtime
like every admin command (so a wrong key is refused before anything is read), act as the
``cli`` actor and are audited. The work itself is in :mod:`habla.runtime.data`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TextIO

from habla.runtime import Runtime
from habla.runtime.data import new_data_key, parse_age, purge, rotate_data_key
from habla.settings import Settings

DATA_KEY_ACTIONS = ("new-data-key", "rotate-data-key")
_BAR_WIDTH = 30


def add_key_parsers(keys: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys.add_parser(
        "new-data-key", help="print a fresh data-encryption key for HABLA_ENCRYPTION_KEY"
    )
    keys.add_parser(
        "rotate-data-key",
        help="re-encrypt every stored row under HABLA_ENCRYPTION_KEY",
        description="Reads rows under the keys in HABLA_ENCRYPTION_OLD_KEYS (and plaintext "
        "rows from before encryption) and re-encrypts them under HABLA_ENCRYPTION_KEY, in "
        "batches of HABLA_PURGE_BATCH_SIZE. Safe to interrupt and run again.",
    )


def add_purge_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser(
        "purge",
        help="hard-delete messages, usage and attachments older than an age",
        description="Deletes messages (with their images), usage rows and conversations "
        "left empty that are older than --older-than (default: HABLA_RETENTION_DAYS). "
        "Audited with counts only.",
    )
    command.add_argument("--older-than", type=_age, metavar="AGE", help="e.g. 30d or 12h")
    command.add_argument("--dry-run", action="store_true", help="count only, delete nothing")


def _age(text: str) -> object:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def run_data(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "keys" and args.action == "new-data-key":
        print(new_data_key())
        print(
            "store it in your secret manager AND a backup: without it the encrypted data"
            " cannot be read",
            file=sys.stderr,
        )
        return 0
    async with Runtime.open(settings, load_models=False) as runtime:
        if args.command == "purge":
            return await _purge(runtime, args)
        return await _rotate(runtime)


async def _purge(runtime: Runtime, args: argparse.Namespace) -> int:
    older_than = args.older_than
    if older_than is None:
        days = runtime.settings.retention_days
        if days is None:
            raise SystemExit("habla: give --older-than (e.g. 30d) or set HABLA_RETENTION_DAYS")
        older_than = parse_age(f"{days}d")
    counts = await purge(
        runtime.store,
        older_than=older_than,
        batch_size=runtime.settings.purge_batch_size,
        dry_run=args.dry_run,
    )
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{verb} {counts.messages} messages (with their attachments), {counts.usage} usage"
        f" rows and {counts.conversations} emptied conversations older than {_show(older_than)}"
    )
    return 0


def _show(age: timedelta) -> str:
    return f"{age.days}d" if age.seconds == 0 else f"{int(age.total_seconds()) // 3600}h"


async def _rotate(runtime: Runtime) -> int:
    report = await rotate_data_key(
        runtime.store,
        batch_size=runtime.settings.purge_batch_size,
        progress=ProgressBar(sys.stderr, "re-encrypting"),
    )
    sources = ", ".join(report.from_key_ids) or "nothing to do"
    print(f"re-encrypted {report.rows} rows under key {report.to_key_id} (from: {sources})")
    if report.rows:
        print("every row is under the current key: the old keys can be removed now")
    return 0


class ProgressBar:
    """``label [#####-----] done/total`` on one line (redrawn on a terminal, a line per
    update otherwise so that logs stay readable)."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._tty = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        filled = _BAR_WIDTH if total == 0 else _BAR_WIDTH * done // total
        line = f"{self._label} [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{total} rows"
        end = "\n" if not self._tty or done >= total else ""
        self._stream.write(("\r" if self._tty else "") + line + end)
        self._stream.flush()
