"""Data at rest as operators meet it: ``habla keys new-data-key|rotate-data-key`` and
``habla purge`` as real child processes, the API round trip with encryption on SQLite and
PostgreSQL, start-up refusals, and validation of the settings."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text, update

import storetest
from cli_runner import run
from habla.core.errors import ConfigError
from habla.core.messages import Message
from habla.runtime import Runtime
from habla.settings import Settings
from habla.store.crypto import Keyring, key_id_of, new_key
from habla.store.schema import messages
from habla.store.sql import SqlStore
from test_api_support import Launcher

SECRET = "my IBAN is ES91 2100 0418 4502 0005 1332"


def _db(tmp_path: Path) -> str:
    return storetest.sqlite_url(tmp_path / "data" / "habla.db")


def _seed(url: str, key: str | None, *, age_days: int = 0) -> str:
    async def go() -> str:
        ring = Keyring.from_settings(key) if key else None
        store = SqlStore(url, keyring=ring)
        await store.start()
        try:
            conv = await store.create_conversation(
                user_id="local", persona="p", model="m", title="secret title"
            )
            for word in (SECRET, "second", "third"):
                await store.append_message(conv.id, Message.of("user", word), user_id="local")
            if age_days:
                old = datetime.now(UTC) - timedelta(days=age_days)
                async with store.engine.begin() as conn:
                    await conn.execute(update(messages).values(created_at=old))
            return conv.id
        finally:
            await store.close()

    return asyncio.run(go())


def _key_ids(url: str) -> set[str | None]:
    async def go() -> set[str | None]:
        store = SqlStore(url)  # raw reads only: no start(), no key check
        try:
            async with store.engine.connect() as conn:
                rows = await conn.execute(text("SELECT key_id FROM messages"))
                return {row[0] for row in rows}
        finally:
            await store.close()

    return asyncio.run(go())


def ok(args: list[str], tmp_path: Path, **env: str) -> tuple[str, str]:
    result = run(args, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout, result.stderr


def refused(args: list[str], tmp_path: Path, code: int = 2, **env: str) -> str:
    result = run(args, tmp_path, **env)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def test_new_data_key_prints_a_fresh_32_byte_key(tmp_path: Path) -> None:
    first, note = ok(["keys", "new-data-key"], tmp_path)
    second, _ = ok(["keys", "new-data-key"], tmp_path)
    keys = [first.strip(), second.strip()]
    assert all(len(base64.b64decode(k, validate=True)) == 32 for k in keys)
    assert keys[0] != keys[1]
    assert "backup" in note
    assert not (tmp_path / "data" / "habla.db").exists()  # no database was touched


def test_rotate_data_key_with_progress_then_the_old_key_is_not_needed(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    url = _db(tmp_path)
    _seed(url, old)
    assert _key_ids(url) == {key_id_of(base64.b64decode(old))}
    out, progress = ok(
        ["keys", "rotate-data-key"],
        tmp_path,
        HABLA_ENCRYPTION_KEY=new,
        HABLA_ENCRYPTION_OLD_KEYS=old,
        HABLA_PURGE_BATCH_SIZE="2",
    )
    new_id = key_id_of(base64.b64decode(new))
    assert f"re-encrypted 4 rows under key {new_id}" in out
    assert re.search(r"re-encrypting \[#+\] 4/4 rows", progress)
    assert "0/4 rows" in progress and "3/4 rows" in progress  # title, then pages of two
    assert _key_ids(url) == {new_id}
    # Without the old key: starts, reads, and the rotation is in the audit log.
    audit, _ = ok(["audit", "tail"], tmp_path, HABLA_ENCRYPTION_KEY=new)
    assert f"cli data.key_rotated {new_id}" in audit
    assert "rows=4" in audit and old not in audit and new not in audit


def test_rotation_needs_a_current_key(tmp_path: Path) -> None:
    _seed(_db(tmp_path), None)
    message = refused(["keys", "rotate-data-key"], tmp_path)
    assert "HABLA_ENCRYPTION_KEY" in message
    assert _key_ids(_db(tmp_path)) == {None}


def test_wrong_missing_or_malformed_keys_are_refused_at_start(tmp_path: Path) -> None:
    key = new_key()
    _seed(_db(tmp_path), key)
    wrong = refused(["users", "list"], tmp_path, HABLA_ENCRYPTION_KEY=new_key())
    assert "HABLA_ENCRYPTION_KEY is wrong" in wrong
    missing = refused(["users", "list"], tmp_path)
    assert "HABLA_ENCRYPTION_KEY is not set" in missing
    malformed = refused(["users", "list"], tmp_path, HABLA_ENCRYPTION_KEY="c2hvcnQ=")
    assert "must decode to 32 bytes" in malformed and "c2hvcnQ=" not in malformed
    only_old = refused(["users", "list"], tmp_path, HABLA_ENCRYPTION_OLD_KEYS=key)
    assert "HABLA_ENCRYPTION_OLD_KEYS is set but HABLA_ENCRYPTION_KEY is not" in only_old
    assert key not in wrong + missing + malformed + only_old


def test_purge_cli_with_dry_run_then_for_real(tmp_path: Path) -> None:
    url = _db(tmp_path)
    _seed(url, None, age_days=40)
    dry, _ = ok(["purge", "--older-than", "30d", "--dry-run"], tmp_path)
    assert dry.startswith("would delete 3 messages (with their attachments), 0 usage rows")
    assert len(_key_ids(url)) == 1 and _count(url) == 3  # nothing changed
    kept, _ = ok(["purge", "--older-than", "41d"], tmp_path)
    assert kept.startswith("deleted 0 messages")
    done, _ = ok(["purge", "--older-than", "12h"], tmp_path)
    assert done.startswith("deleted 3 messages") and "older than 12h" in done
    assert _count(url) == 0
    audit, _ = ok(["audit", "tail"], tmp_path)
    assert "cli data.purged retention (messages=3 usage=0 conversations=0 cutoff=" in audit
    assert SECRET not in audit


def test_purge_defaults_to_the_retention_setting(tmp_path: Path) -> None:
    _seed(_db(tmp_path), None, age_days=40)
    out, _ = ok(["purge", "--dry-run"], tmp_path, HABLA_RETENTION_DAYS="30")
    assert out.startswith("would delete 3 messages") and "older than 30d" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["purge", "--older-than", "30x"], "not an age like 30d or 12h"),
        (["purge", "--older-than", "0d"], "at least 1h"),
        (["purge"], "give --older-than"),
    ],
)
def test_bad_purge_input_is_refused_and_changes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    _seed(_db(tmp_path), None, age_days=40)
    assert message in refused(args, tmp_path, code=2 if args != ["purge"] else 1)
    assert _count(_db(tmp_path)) == 3


def _count(url: str) -> int:
    async def go() -> int:
        store = SqlStore(url)
        try:
            async with store.engine.connect() as conn:
                return int((await conn.execute(text("SELECT count(*) FROM messages"))).scalar_one())
        finally:
            await store.close()

    return asyncio.run(go())


# -- through the API ----------------------------------------------------------------------


# The shared fixture (storetest.py), bound here so that pytest finds it.
fresh_pg_url = storetest.fresh_pg_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # SQLite: the same file as ``_db``.
    return storetest.empty_database(request, tmp_path / "data" / "habla.db")


def test_api_round_trip_is_encrypted_at_rest(
    make_settings: Callable[..., Settings],
    write_script: Callable[..., Path],
    tmp_path: Path,
    database_url: str,
) -> None:
    launch = Launcher(make_settings, write_script, tmp_path)
    key = new_key()
    options: dict[str, Any] = {"encryption_key": key, "database_url": database_url}
    with launch(["The IBAN is noted.", "Yes, the one you gave."], **options) as api:
        first = api.http.post("/chat", json={"prompt": SECRET})
        assert first.status_code == 200, first.text
        conv_id = first.json()["conversation_id"]
        second = api.http.post("/chat", json={"prompt": "Remember?", "conversation_id": conv_id})
        assert second.status_code == 200, second.text
        # The backend got the history decrypted...
        history = [(m["role"], m["text"]) for m in api.received()[1]["messages"][1:]]
        assert history[:2] == [("user", SECRET), ("assistant", "The IBAN is noted.")]
        # ...and the API shows it as written.
        shown = [m["content"] for m in api.messages(conv_id)]
        assert shown == [SECRET, "The IBAN is noted.", "Remember?", "Yes, the one you gave."]
    ring_id = key_id_of(base64.b64decode(key))
    assert _key_ids(database_url) == {ring_id}
    assert "ES91" not in _raw_dump(database_url)
    # A restart with the same key reads it all back; with another key it does not start.
    with launch(["unused"], **options) as api:
        assert api.messages(conv_id)[0]["content"] == SECRET
    with pytest.raises(ConfigError, match=ring_id):
        asyncio.run(_open(make_settings(encryption_key=new_key(), database_url=database_url)))


async def _open(settings: Settings) -> None:
    async with Runtime.open(settings, load_models=False):
        pass


def _raw_dump(url: str) -> str:
    async def go() -> str:
        store = SqlStore(url)
        try:
            async with store.engine.connect() as conn:
                rows = await conn.execute(text("SELECT parts FROM messages"))
                titles = await conn.execute(text("SELECT title FROM conversations"))
                return "\n".join([r[0] for r in rows] + [r[0] for r in titles])
        finally:
            await store.close()

    return asyncio.run(go())


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"retention_days": 0},
        {"retention_days": -1},
        {"retention_interval_seconds": 0},
        {"retention_interval_seconds": float("nan")},
        {"retention_interval_seconds": float("inf")},
        {"purge_batch_size": 0},
    ],
)
def test_bad_data_settings_are_refused(make_settings: Callable[..., Settings], bad: Any) -> None:
    with pytest.raises(ValidationError):
        make_settings(**bad)


def test_old_keys_come_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = new_key(), new_key()
    monkeypatch.setenv("HABLA_ENCRYPTION_OLD_KEYS", f"{first}, {second}")
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert [k.get_secret_value() for k in settings.encryption_old_keys] == [first, second]
    assert first not in repr(settings)
