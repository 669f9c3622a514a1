"""The chat page in real headless Chromium against a real ``habla serve`` (scripted
backend): sign in, a streamed reply, stop, reload, rename, delete; replies that try
to inject markup stay inert; errors in plain words; images; phone width and keyboard.

Screenshots go to ``test-output/web/``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from browser import (
    DESKTOP,
    PHONE,
    WAIT_MS,
    PageServer,
    Watch,
    chromium,
    habla_server,
    record_reply_states,
    reply_states,
)
from seeding import PASSWORD
from servers import OUTPUT_DIR

SHOTS = OUTPUT_DIR / "web"
MARKDOWN_REPLY = (
    "Here is **habla** at work:\n\n"
    "- streams replies\n- renders *markdown*\n\n"
    "| feature | state |\n|---|---|\n| tables | yes |\n\n"
    "```python\nprint('hello')\n```\n\nDone."
)
LONG_REPLY = " ".join(f"word{i}" for i in range(400))
XSS_REPLY = (
    "Look: <img src=x onerror=alert(1)> then [click me](javascript:alert(2)) and "
    "![x](https://evil.example/x.png) <script>alert(3)</script> "
    "[docs](https://example.org/docs) [tricky](JaVaScRiPt:alert(4)) **end**"
)
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

# Fires a paste or drop event carrying one PNG-typed file of the given size, the way the
# browser does when a user pastes or drops an image.
EVENT_WITH_FILE = """([kind, target, size]) => {
  const data = new DataTransfer();
  data.items.add(new File([new Uint8Array(size)], 'image.png', {type: 'image/png'}));
  const init = {bubbles: true, cancelable: true};
  const event = kind === 'paste'
    ? new ClipboardEvent('paste', {...init, clipboardData: data})
    : new DragEvent('drop', {...init, dataTransfer: data});
  document.querySelector(target).dispatchEvent(event);
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


@pytest.fixture
def watch() -> Watch:
    return Watch()


def open_page(browser: Browser, watch: Watch, url: str, viewport: dict[str, int]) -> Page:
    page = watch.attach(browser.new_page(viewport=viewport))  # type: ignore[arg-type]
    page.set_default_timeout(WAIT_MS)
    page.goto(url + "/")
    return page


def sign_in(page: Page) -> None:
    page.fill("#signin-name", "ana")
    page.fill("#signin-password", PASSWORD)
    page.press("#signin-password", "Enter")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#who")).to_have_text("signed in as ana")


def send(page: Page, text: str) -> None:
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")


def last_reply(page: Page) -> str:
    return page.locator(".message.assistant .body").last.inner_text()


def wait_for_reply_done(page: Page) -> None:
    expect(page.locator(".message.assistant .meta").last).to_contain_text("reply tokens")
    expect(page.locator("#send")).to_be_visible()


def api(server: PageServer, user: str = "ana") -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.keys[user]}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_sign_in_stream_reload_rename_delete(
    browser: Browser, watch: Watch, tmp_path: Path
) -> None:
    replies = [{"text": MARKDOWN_REPLY, "delay": 0.05}]
    with habla_server(tmp_path, replies) as server, api(server) as http:
        page = open_page(browser, watch, server.url, DESKTOP)
        expect(page.locator("#signin")).to_be_visible()
        page.screenshot(path=str(SHOTS / "signin.png"))

        page.fill("#signin-name", "ana")
        page.fill("#signin-password", "not the password")
        page.press("#signin-password", "Enter")
        expect(page.locator("#signin-error")).to_have_text("That name and password do not match.")
        sign_in(page)

        record_reply_states(page)  # every state the reply goes through
        send(page, "Hello habla")
        wait_for_reply_done(page)
        seen = reply_states(page)
        assert "Here is habla at work" in last_reply(page)
        assert len(seen) >= 3, seen  # it grew piece by piece, not all at once
        reply = page.locator(".message.assistant").last
        expect(reply.locator("strong")).to_have_text("habla")
        expect(reply.locator("ul li")).to_have_count(2)
        expect(reply.locator("table td").first).to_have_text("tables")
        expect(reply.locator(".code-block code")).to_have_text("print('hello')")
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        copy = reply.locator(".code-block button.copy")
        expect(copy).to_have_text("Copy")
        copy.click()
        expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == "print('hello')"
        expect(page.locator("#usage")).to_contain_text("requests left this minute")
        items = page.locator("#conversations li")
        expect(items).to_have_count(1)
        expect(items.first.locator(".open")).to_have_text("Hello habla")
        assert "#c=" in page.url
        page.screenshot(path=str(SHOTS / "desktop.png"))

        page.reload()
        expect(page.locator(".message.user .body")).to_have_text(["Hello habla"])
        expect(page.locator(".message.assistant .body")).to_contain_text("Here is habla at work")
        expect(page.locator("#conversations li")).to_have_count(1)

        page.locator("#conversations li .small", has_text="Rename").click()
        page.fill("#conversations input", "Renamed chat")
        page.press("#conversations input", "Enter")
        expect(page.locator("#conversations li .open")).to_have_text(["Renamed chat"])
        assert [c["title"] for c in http.get("/v1/conversations").json()["data"]] == [
            "Renamed chat"
        ]

        delete = page.locator("#conversations li .small", has_text="Delete")
        delete.click()
        expect(delete).to_have_text("Confirm delete")
        assert len(http.get("/v1/conversations").json()["data"]) == 1  # one click is not enough
        delete.click()
        expect(page.locator("#conversations li")).to_have_count(0)
        expect(page.locator("#messages li")).to_have_count(0)
        assert http.get("/v1/conversations").json()["data"] == []
        assert watch.dialogs == []
        assert watch.errors == []
        assert watch.off_loopback() == []


def test_stop_ends_a_long_reply(browser: Browser, watch: Watch, tmp_path: Path) -> None:
    with (
        habla_server(tmp_path, [{"text": LONG_REPLY, "delay": 0.05}]) as server,
        api(server) as http,
    ):
        page = open_page(browser, watch, server.url, DESKTOP)
        page.fill("#signin-key", "hbl_not_a_key")
        page.press("#signin-key", "Enter")
        expect(page.locator("#signin-error")).to_have_text("That API key is not valid.")
        page.fill("#signin-key", server.keys["ana"])  # an API key instead of a password
        page.press("#signin-key", "Enter")
        expect(page.locator("#who")).to_have_text("signed in as ana")
        send(page, "Count for me")
        expect(page.locator(".message.assistant .body").last).to_contain_text("word5")
        expect(page.locator("#send")).to_be_hidden()
        page.click("#stop")
        expect(page.locator(".message.assistant .meta").last).to_have_text("stopped")
        expect(page.locator("#send")).to_be_visible()
        expect(page.locator("#stop")).to_be_hidden()
        shown = last_reply(page)
        page.wait_for_timeout(1000)  # had generation gone on, more words would arrive
        assert last_reply(page) == shown
        assert "word399" not in shown

        cid = http.get("/v1/conversations").json()["data"][0]["id"]
        stored = http.get(f"/v1/conversations/{cid}/messages").json()["data"]
        assert stored[-1]["role"] == "assistant"
        assert stored[-1]["status"] == "incomplete"
        assert 0 < len(stored[-1]["content"].split()) < 400

        page.reload()
        expect(page.locator(".message.assistant .meta")).to_have_text("stopped before the end")
        page.click("#signout")
        expect(page.locator("#signin")).to_be_visible()
        page.reload()  # the key was forgotten
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#app")).to_be_hidden()
        assert watch.errors == []


def assert_inert(page: Page, watch: Watch) -> None:
    reply = page.locator(".message.assistant").last
    expect(reply.locator(".body")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(reply.locator(".body")).to_contain_text("<script>alert(3)</script>")
    expect(reply.locator("strong")).to_have_text("end")
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(e =>
             [...e.attributes].filter(a => a.name.toLowerCase().startsWith('on'))
                              .map(a => e.tagName + ' ' + a.name))"""
    )
    assert handlers == []
    images = page.evaluate("() => [...document.images].map(i => i.getAttribute('src'))")
    assert images == []
    assert page.evaluate("() => document.scripts.length") == 1
    hrefs = reply.locator("a").evaluate_all(
        "links => links.map(a => [a.textContent, a.href, a.rel])"
    )
    assert hrefs == [
        ["image: x", "https://evil.example/x.png", "noopener noreferrer nofollow"],
        ["docs", "https://example.org/docs", "noopener noreferrer nofollow"],
    ]
    expect(reply.locator(".body")).to_contain_text("click me")  # the words stay, not the link
    assert watch.dialogs == []
    assert watch.off_loopback() == []


def test_markup_in_a_reply_is_inert(browser: Browser, watch: Watch, tmp_path: Path) -> None:
    with habla_server(tmp_path, [XSS_REPLY]) as server:
        page = open_page(browser, watch, server.url, DESKTOP)
        sign_in(page)
        send(page, "<b onmouseover=alert(5)>hi</b>")
        wait_for_reply_done(page)
        expect(page.locator(".message.user .body")).to_have_text("<b onmouseover=alert(5)>hi</b>")
        assert_inert(page, watch)
        page.locator(".message.assistant a", has_text="image: x").hover()
        page.reload()  # the stored reply renders just as inertly
        expect(page.locator(".message.assistant")).to_have_count(1)
        assert_inert(page, watch)
        assert watch.errors == []


def test_errors_in_plain_words_and_images(browser: Browser, watch: Watch, tmp_path: Path) -> None:
    replies = [{"text": "", "fail": "unavailable"}, "I see a tiny image.", "Third reply."]
    env = {
        "HABLA_MODELS": "llamacpp:smollm2",  # text-only, and never loaded by this test
        "HABLA_MAX_MESSAGE_CHARS": "200",
        "HABLA_USER_REQUESTS_PER_MINUTE": "3",
    }
    png, text_file = tmp_path / "dot.png", tmp_path / "notes.txt"
    png.write_bytes(PNG)
    text_file.write_text("not an image")
    with habla_server(tmp_path, replies, env=env) as server:
        page = open_page(browser, watch, server.url, DESKTOP)
        sign_in(page)
        error = page.locator("#error")

        send(page, "hello?")  # 1st request: the backend is down
        expect(error).to_contain_text("The model is not available right now.")
        send(page, "x" * 300)  # refused before it counts
        expect(error).to_contain_text("Your message is too long for this model.")

        page.select_option("#model", "llamacpp:smollm2")
        page.set_input_files("#file", str(png))
        expect(page.locator("#attachments img")).to_have_count(1)
        expect(error).to_contain_text("reads text only and cannot see images")
        page.press("#prompt", "Enter")
        expect(error).to_contain_text("reads text only")
        assert len(server.received()) == 1  # nothing was sent

        page.set_input_files("#file", str(text_file))
        expect(error).to_contain_text("is not a PNG, JPEG, WebP or GIF image")
        page.select_option("#model", "scripted:web")
        send(page, "What is this?")  # 2nd request, with the image
        wait_for_reply_done(page)
        expect(error).to_be_hidden()
        expect(page.locator(".message.user img.attached")).to_have_count(1)
        assert server.received()[-1]["messages"][-1]["images"] == [
            {"mime": "image/png", "bytes": len(PNG)}
        ]

        # Paste and drop attach too; more than 20 MB is refused before any upload.
        page.evaluate(EVENT_WITH_FILE, ["paste", "#prompt", 64])
        expect(page.locator("#attachments img")).to_have_count(1)
        page.evaluate(EVENT_WITH_FILE, ["drop", "#chat", 64])
        expect(page.locator("#attachments img")).to_have_count(2)
        page.evaluate(EVENT_WITH_FILE, ["drop", "#chat", 20 * 1024 * 1024 + 1])
        expect(error).to_contain_text("is larger than 20 MB")
        expect(page.locator("#attachments img")).to_have_count(2)
        page.click("#attachments button >> nth=0")
        page.click("#attachments button >> nth=0")
        expect(page.locator("#attachments img")).to_have_count(0)

        send(page, "once more")  # 3rd request
        wait_for_reply_done(page)
        send(page, "and again")  # 4th: over the limit
        expect(error).to_contain_text("You have reached your limit for now.")
        expect(error).to_contain_text("You can send again in")
        assert watch.off_loopback() == []


def test_earlier_turns_left_out_are_announced(
    browser: Browser, watch: Watch, tmp_path: Path
) -> None:
    replies = [f"Answer number {i}: here is something." for i in range(5)]
    env = {"HABLA_DEFAULT_MAX_TOKENS": "20"}
    with habla_server(tmp_path, replies, context_window=120, env=env) as server:
        page = open_page(browser, watch, server.url, DESKTOP)
        sign_in(page)
        for i in range(5):
            send(page, f"Question number {i}: tell me something.")
            wait_for_reply_done(page)
        notice = page.locator("#notice")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("left out to fit the model's context window")


def test_local_mode_phone_width_and_keyboard(
    browser: Browser, watch: Watch, tmp_path: Path
) -> None:
    with habla_server(tmp_path, ["A **short** answer."], accounts=False) as server:
        page = open_page(browser, watch, server.url, PHONE)
        expect(page.locator("#app")).to_be_visible()
        expect(page.locator("#signin")).to_be_hidden()  # local mode: no sign-in
        expect(page.locator("#who")).to_have_text("local mode")
        expect(page.locator("#sidebar")).to_be_hidden()
        expect(page.locator("#menu")).to_be_visible()
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')]
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                              && !e.textContent.trim()).map(e => e.id)"""
        )
        assert unlabeled == []

        # Keyboard only: the message box has focus; Shift+Enter is a new line, Enter sends.
        expect(page.locator("#prompt")).to_be_focused()
        page.keyboard.type("line one")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("line two")
        page.keyboard.press("Enter")
        wait_for_reply_done(page)
        expect(page.locator(".message.user .body")).to_have_text("line one\nline two")
        page.screenshot(path=str(SHOTS / "phone.png"))

        for _ in range(15):  # back through the form controls to the menu button
            if page.evaluate("document.activeElement.id") == "menu":
                break
            page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.id") == "menu"
        page.keyboard.press("Enter")
        expect(page.locator("#sidebar")).to_be_visible()
        expect(page.locator("#new-chat")).to_be_focused()
        page.keyboard.press("Enter")  # a new chat: the list folds away, the box has focus
        expect(page.locator("#sidebar")).to_be_hidden()
        expect(page.locator("#messages li")).to_have_count(0)
        expect(page.locator("#prompt")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        for _ in range(15):
            if page.evaluate("document.activeElement.id") == "menu":
                break
            page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")  # from "New chat" to the conversation
        page.keyboard.press("Enter")
        expect(page.locator(".message.assistant .body")).to_have_text("A short answer.")
        assert watch.errors == []
