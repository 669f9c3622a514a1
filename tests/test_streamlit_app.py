"""The Streamlit app with ``streamlit.testing.v1.AppTest`` against a live habla server
(real HTTP on 127.0.0.1, scripted backend, accounts): connection errors in plain words,
a streamed reply, history from the server, the persona picker, inert markdown images."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from habla.interfaces.streamlit import app as streamlit_app
from habla.interfaces.streamlit.app import inert_stream
from habla.settings import Settings
from seeding import SECRET, seed_accounts
from servers import free_port
from test_api_support import Api, Launcher, serve

APP = str(Path(streamlit_app.__file__))
PIRATE = "Talk like a pirate."
REPLIES: list[Any] = [
    "Ahoy, **matey**!",
    "Look: ![x](https://evil.example/x.png)",
    {"text": "", "fail": "unavailable"},
]


@pytest.fixture
def server(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Iterator[tuple[Api, dict[str, str]]]:
    launcher = Launcher(make_settings, write_script, tmp_path)
    settings = launcher.settings(REPLIES, jwt_secret=SECRET, personas={"pirate": PIRATE})
    keys = seed_accounts(settings.resolved_database_url)
    with serve(settings, launcher.record_path) as api:
        yield api, keys


def connect(url: str, key: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.text_input(key="api_url").set_value(url)
    app.text_input(key="api_key").set_value(key)
    return app.run()


def chat_text(app: AppTest) -> list[tuple[str, str]]:
    return [
        (message.name, " ".join(m.value for m in message.markdown) or message.text[0].value)
        for message in app.chat_message
    ]


def test_clear_error_when_the_server_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HABLA_API_URL", closed)  # the default the sidebar starts with
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert [e.value for e in app.error] == [f"Cannot reach the habla server at {closed}."]


def test_wrong_key_is_a_clear_error(server: tuple[Api, dict[str, str]]) -> None:
    api, _ = server
    app = connect(api.url, "hbl_not_a_key")
    assert not app.exception
    assert [e.value for e in app.error] == [
        "The server did not accept the API key. Check it in the sidebar."
    ]


def test_chat_streams_keeps_history_and_uses_the_persona(
    server: tuple[Api, dict[str, str]],
) -> None:
    api, keys = server
    app = connect(api.url, keys["ana"])
    assert not app.exception
    assert app.error == []
    assert app.selectbox(key="persona").options == ["default", "pirate"]
    assert app.selectbox(key="model").value == "scripted:test"
    app.selectbox(key="persona").set_value("pirate").run()

    app.chat_input[0].set_value("Hello there").run()
    assert not app.exception
    assert chat_text(app) == [("user", "Hello there"), ("assistant", "Ahoy, **matey**!")]
    assert "reply tokens" in app.chat_message[-1].caption[0].value
    system = api.received()[-1]["messages"][0]
    assert system["role"] == "system"
    assert system["text"].startswith(PIRATE + "\n\n")  # then its canary (docs/privacy.md)

    app.chat_input[0].set_value("Show me").run()  # continues the same conversation
    assert chat_text(app)[-1] == ("assistant", "Look: \\![x](https://evil.example/x.png)")
    ana = {"Authorization": f"Bearer {keys['ana']}"}
    conversations = api.http.get("/v1/conversations", headers=ana).json()["data"]
    assert len(conversations) == 1
    path = f"/v1/conversations/{conversations[0]['id']}/messages"
    messages = api.http.get(path, headers=ana).json()["data"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2

    # A fresh session picks the conversation from the server's list and shows its history.
    fresh = connect(api.url, keys["ana"])
    picker = fresh.selectbox(key="pick")
    assert picker.options == ["New chat", "Hello there"]  # titles, as the user sees them
    picker.set_value(conversations[0]["id"]).run()
    assert [name for name, _ in chat_text(fresh)] == ["user", "assistant"] * 2
    assert chat_text(fresh)[1] == ("assistant", "Ahoy, **matey**!")

    fresh.chat_input[0].set_value("Still there?").run()  # the backend is down this time
    assert [e.value for e in fresh.error] == [
        "The model is not available right now. Try again in a moment."
    ]


def test_images_stay_inert_even_when_split_across_chunks() -> None:
    chunks = ["Look", ": !", "[x](https://evil.example/x.png) and !", "[y](z) !"]
    assert "".join(inert_stream(iter(chunks))) == (
        "Look: \\![x](https://evil.example/x.png) and \\![y](z) !"
    )


def test_the_cli_command_runs_this_app() -> None:
    from habla.interfaces.cli.streamlit_cmd import streamlit_command

    class Args:
        port = 8765
        address = "127.0.0.1"

    command = streamlit_command(Args())  # type: ignore[arg-type]
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4] == APP
    assert command[command.index("--server.port") + 1] == "8765"
