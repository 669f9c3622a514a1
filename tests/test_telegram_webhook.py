"""Webhook mode (REL-TG): ``POST /telegram/webhook`` on the real API app, Telegram's
secret-token header checked; ``habla telegram set-webhook``; settings and CLI checks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import cli_runner
from fakes.telegram_server import TOKEN, FakeTelegram
from habla.core.errors import ConfigError
from habla.interfaces.api.app import create_app
from habla.interfaces.telegram.cli import check_webhook_url, set_webhook
from habla.settings import Settings
from scripted_record import received
from servers import HABLA, ThreadedServer
from telegram_harness import bot_settings

SECRET = "s3cr3t-webhook-token_0123456789abcdef"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    write_script: Callable[..., Path],
    fake: FakeTelegram,
    tmp_path: Path,
) -> Settings:
    script = write_script(["Webhook answer."])
    return bot_settings(
        make_settings,
        fake,
        script,
        telegram_webhook_secret=SECRET,
        scripted_record_path=tmp_path / "received.jsonl",
    )


def _received(settings: Settings) -> list[Any]:
    path = settings.scripted_record_path
    assert path is not None
    return received(path)


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({HEADER: "wrong" * 8}, 403)])
async def test_a_missing_or_wrong_secret_is_rejected_and_nothing_processed(
    fake: FakeTelegram, settings: Settings, headers: dict[str, str], status: int
) -> None:
    update = fake.user_message("sneaky", user_id=7, queue=False)
    with ThreadedServer(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            refused = await http.post("/telegram/webhook", json=update, headers=headers)
            assert refused.status_code == status
            assert refused.json()["ok"] is False
            # The same update with the right secret is then handled: it was not consumed.
            accepted = await http.post("/telegram/webhook", json=update, headers={HEADER: SECRET})
            assert accepted.status_code == 200
            await fake.wait_for(lambda: fake.texts(7) == ["Webhook answer."])
    assert [r["messages"][-1]["text"] for r in _received(settings)] == ["sneaky"]


async def test_webhook_updates_are_answered_once_and_bad_bodies_refused(
    fake: FakeTelegram, settings: Settings
) -> None:
    update = fake.user_message("hello hook", user_id=7, queue=False)
    with ThreadedServer(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, headers={HEADER: SECRET}) as http:
            for _ in range(2):  # Telegram redelivers when it thinks we failed
                assert (await http.post("/telegram/webhook", json=update)).status_code == 200
            await fake.wait_for(lambda: fake.texts(7))
            bad = await http.post("/telegram/webhook", content=b"{not json")
            assert bad.status_code == 400
            not_update = await http.post("/telegram/webhook", json=["a", "list"])
            assert not_update.status_code == 400
            assert (await http.post("/telegram/webhook", json={"x": 1})).status_code == 400
            health = await http.get("/healthz")
            assert health.status_code == 200
    assert fake.texts(7) == ["Webhook answer."]
    assert len(_received(settings)) == 1
    assert not fake.calls("getUpdates")  # webhook mode never polls


def test_without_a_webhook_secret_there_is_no_webhook_route(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(default_model="echo:echo", telegram_token=TOKEN)
    with ThreadedServer(create_app(settings)) as server:
        response = httpx.post(server.url + "/telegram/webhook", json={}, headers={HEADER: SECRET})
    assert response.status_code == 404


async def test_set_webhook_registers_the_url_with_the_secret(
    fake: FakeTelegram, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://bot.example.com/telegram/webhook"
    assert await set_webhook(settings, url) == 0
    assert fake.webhook is not None
    assert fake.webhook["url"] == url
    assert fake.webhook["secret_token"] == SECRET
    assert fake.webhook["allowed_updates"] == ["message"]
    assert TOKEN not in capsys.readouterr().out


@pytest.mark.parametrize(
    "url",
    ["http://bot.example.com/telegram/webhook", "ftp://x/y", "https:///nohost", "https://a/b?q=1"],
)
def test_a_bad_webhook_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        check_webhook_url(url)


async def test_set_webhook_needs_the_secret_first(
    fake: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(telegram_token=TOKEN, telegram_api_url=fake.url)
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        await set_webhook(settings, "https://bot.example.com/telegram/webhook")
    assert fake.webhook is None


async def test_a_token_telegram_refuses_is_a_config_error(
    fake: FakeTelegram, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        telegram_token="1:wrong", telegram_api_url=fake.url, telegram_webhook_secret=SECRET
    )
    with pytest.raises(ConfigError, match="refused the bot token"):
        await set_webhook(settings, "https://bot.example.com/telegram/webhook")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("telegram_webhook_secret", "short"),
        ("telegram_webhook_secret", "has spaces in it and is long enough to pass"),
        ("telegram_api_url", "api.telegram.org"),
        ("telegram_idle_minutes", 0),
        ("telegram_edit_interval", float("nan")),
    ],
)
def test_bad_telegram_settings_are_refused(
    make_settings: Callable[..., Settings], field: str, value: object
) -> None:
    with pytest.raises(ValidationError):
        make_settings(**{field: value})


def test_cli_prints_a_link_code_and_refuses_unknown_users(tmp_path: Path) -> None:
    added = cli_runner.run(["users", "add", "ana", "--no-password"], tmp_path)
    assert added.returncode == 0, added.stderr
    linked = cli_runner.run(["users", "link-telegram", "ana"], tmp_path)
    assert linked.returncode == 0, linked.stderr
    assert "/link " in linked.stdout
    missing = cli_runner.run(["users", "link-telegram", "ghost"], tmp_path)
    assert missing.returncode == 1
    assert "no user named 'ghost'" in missing.stderr
    audit = cli_runner.run(["audit", "tail"], tmp_path)
    code = linked.stdout.split("/link ")[1].split()[0]
    assert "telegram.link_code" in audit.stdout
    assert code not in audit.stdout


def test_cli_telegram_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    result = cli_runner.run(["telegram"], tmp_path)
    assert result.returncode == 2
    assert "HABLA_TELEGRAM_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


async def test_habla_telegram_polls_until_told_to_stop(
    fake: FakeTelegram, write_script: Callable[..., Path], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "HABLA_DATA_DIR": str(tmp_path / "data"),
        "HABLA_DEFAULT_MODEL": "scripted:t",
        "HABLA_SCRIPTED_FILE": str(write_script(["From the command line."])),
        "HABLA_TELEGRAM_TOKEN": TOKEN,
        "HABLA_TELEGRAM_API_URL": fake.url,
        "HABLA_TELEGRAM_ALLOWED": "7",
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp_path / "telegram.log"
    with log.open("wb") as out:
        child = await asyncio.to_thread(
            subprocess.Popen, [str(HABLA), "telegram"], env=env, stdout=out, stderr=out
        )
    try:
        await fake.wait_for(lambda: fake.calls("getUpdates"), timeout=120)
        fake.user_message("hi from the CLI", user_id=7)
        await fake.wait_for(lambda: fake.texts(7) == ["From the command line."])
    finally:
        child.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(child.wait, 30)
    output = log.read_text()
    assert code == 0, output
    assert "@habla_test_bot is polling" in output
    assert TOKEN not in output
