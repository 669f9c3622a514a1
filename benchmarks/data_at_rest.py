"""Cost of encryption at rest: the SQL store with a data key vs without, same run.

Each round writes a conversation of N messages (append, like a chat does) and reads it
back (list, like building the context window), once on a plaintext store and once on an
encrypted one, interleaved, each on its own fresh SQLite file. Also times a key rotation
of the encrypted data. Prints per-operation medians and the ratios encrypted / plaintext.

    .venv/bin/python benchmarks/data_at_rest.py [--rounds 5] [--messages 200] [--chars 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from habla.core.messages import Message
from habla.store.crypto import Keyring, new_key
from habla.store.sql import SqlStore

USER = "bench"


async def one_round(
    folder: Path, keyring: Keyring | None, messages: int, chars: int
) -> tuple[float, float]:
    store = SqlStore(f"sqlite+aiosqlite:///{folder / 'habla.db'}", keyring=keyring)
    await store.start()
    try:
        conv = await store.create_conversation(user_id=USER, persona="p", model="m", title="t")
        body = ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars]
        start = time.perf_counter()
        for index in range(messages):
            role = "user" if index % 2 == 0 else "assistant"
            await store.append_message(conv.id, Message.of(role, body), user_id=USER)
        written = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(10):
            await store.list_messages(conv.id, user_id=USER)
        read = (time.perf_counter() - start) / 10
        return written, read
    finally:
        await store.close()


async def rotation(folder: Path, old: str, messages: int) -> float:
    store = SqlStore(
        f"sqlite+aiosqlite:///{folder / 'habla.db'}",
        keyring=Keyring.from_settings(new_key(), [old]),
    )
    await store.start()
    try:
        start = time.perf_counter()
        report = await store.rotate_data_key(batch_size=500)
        assert report.rows == messages + 1
        return time.perf_counter() - start
    finally:
        await store.close()


async def main(rounds: int, messages: int, chars: int) -> None:
    plain: list[tuple[float, float]] = []
    sealed: list[tuple[float, float]] = []
    rotations: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            plain.append(await one_round(Path(a), None, messages, chars))
            key = new_key()
            sealed.append(await one_round(Path(b), Keyring.from_settings(key), messages, chars))
            rotations.append(await rotation(Path(b), key, messages))
    for label, index in (("append", 0), ("list", 1)):
        base = statistics.median(r[index] for r in plain)
        enc = statistics.median(r[index] for r in sealed)
        unit = messages if index == 0 else 1
        what = "per message" if index == 0 else f"whole conversation, {messages} messages"
        print(
            f"{label:<7} plaintext {base / unit * 1e3:8.3f} ms"
            f"  encrypted {enc / unit * 1e3:8.3f} ms  ratio {enc / base:5.2f} ({what})"
        )
    rotate = statistics.median(rotations)
    write = statistics.median(r[0] for r in plain)
    print(
        f"rotate  {rotate * 1e3:8.1f} ms for {messages + 1} rows"
        f"  ratio to writing them plaintext {rotate / write:5.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--chars", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.messages, args.chars))
