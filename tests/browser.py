"""Headless Chromium for the chat-page tests: Debian's ``chromium`` driven by Playwright
(never Playwright's own browser download), plus a :class:`Watch` that records what a
page did that it should not: dialogs, script errors, requests off loopback.

Also starts ``habla serve`` for a page test: the scripted backend with the given
replies, with accounts (``ana`` signs in with seeding.PASSWORD) or in local mode.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    expect,
    sync_playwright,
)

import scripted_record
from habla.settings import Settings
from seeding import SECRET, seed_accounts
from servers import HablaProcess

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
WAIT_MS = 60_000  # an upper bound for the page to show something; normally far sooner


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "these tests need Debian's chromium: apt-get install -y chromium"
    # Waits are upper bounds on a busy machine (2 cores shared), never speed assertions.
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


RECORD_REPLY_STATES = """() => { window.__seen = [];
  new MutationObserver(() => {
    const bodies = document.querySelectorAll('.message.assistant .body');
    if (bodies.length) window.__seen.push(bodies[bodies.length - 1].textContent);
  }).observe(document.getElementById('messages'),
             {subtree: true, childList: true, characterData: true}); }"""


def record_reply_states(page: Page) -> None:
    """From now on, note every text the newest reply shows (see :func:`reply_states`)."""
    page.evaluate(RECORD_REPLY_STATES)


def reply_states(page: Page) -> list[str]:
    """The distinct non-empty texts the newest reply has shown, in order."""
    seen: list[str] = []
    for text in page.evaluate("window.__seen"):
        if text and (not seen or seen[-1] != text):
            seen.append(text)
    return seen


@dataclass
class Watch:
    """Everything a page did that a safe page must not."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            # HTTP errors the page handles (401 before sign-in, 429, ...) are logged by the
            # browser as "Failed to load resource"; script errors are what this is about.
            if message.type == "error" and not message.text.startswith("Failed to load"):
                self.errors.append(message.text)

        def on_request(request: Request) -> None:
            self.requests.append(request.url)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", on_request)
        return page

    def off_loopback(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob")
            and urlsplit(url).hostname not in LOOPBACK
        ]


@dataclass
class PageServer:
    url: str
    keys: dict[str, str]
    record_path: Path

    def received(self) -> list[dict[str, Any]]:
        return scripted_record.received(self.record_path)


@contextmanager
def habla_server(
    tmp: Path,
    replies: list[Any],
    *,
    accounts: bool = True,
    context_window: int = 8192,
    env: dict[str, str] | None = None,
) -> Iterator[PageServer]:
    """``habla serve`` on the scripted backend ``scripted:web``."""
    data = tmp / "data"
    script = tmp / "script.json"
    script.write_text(json.dumps({"replies": replies, "context_window": context_window}))
    record = tmp / "received.jsonl"
    values = {
        "HABLA_DATA_DIR": str(data),
        "HABLA_DEFAULT_MODEL": "scripted:web",
        "HABLA_SCRIPTED_FILE": str(script),
        "HABLA_SCRIPTED_RECORD_PATH": str(record),
        **(env or {}),
    }
    keys: dict[str, str] = {}
    if accounts:
        values["HABLA_JWT_SECRET"] = SECRET
        url = Settings(_env_file=None, data_dir=data).resolved_database_url  # type: ignore[call-arg]
        data.mkdir(parents=True, exist_ok=True)
        # Playwright's sync API keeps an event loop running in this thread: seed in another.
        with ThreadPoolExecutor(1) as pool:
            keys = pool.submit(seed_accounts, url).result()
    with HablaProcess(values, log_path=tmp / "serve.log") as server:
        yield PageServer(server.url, keys, record)
