"""The acceptance path of the chat page: ``habla serve`` with no configuration at all
(local mode, the embedded SmolLM2 model), opened in headless Chromium, chatted with —
no sign-in, no other step. Writes ``test-output/web/embedded-model.png``."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from browser import DESKTOP, WAIT_MS, Watch, chromium, record_reply_states, reply_states
from servers import OUTPUT_DIR, HablaProcess

SHOTS = OUTPUT_DIR / "web"


def test_chat_with_the_embedded_model_in_local_mode(tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    # Output guards hold a reply's last 64 characters back until they are checked
    # (docs/privacy.md), so a short answer from the unseeded model would arrive whole; they
    # are off here so that the test can watch the embedded model's tokens stream in.
    env = {
        "HABLA_DATA_DIR": str(tmp_path / "data"),
        "HABLA_DEFAULT_MAX_TOKENS": "48",
        "HABLA_OUTPUT_GUARDS": "false",
    }
    watch = Watch()
    with HablaProcess(env, log_path=tmp_path / "serve.log") as server, chromium() as browser:
        page = watch.attach(browser.new_page(viewport=DESKTOP))  # type: ignore[arg-type]
        page.set_default_timeout(WAIT_MS * 2)
        page.goto(server.url + "/")
        expect(page.locator("#who")).to_have_text("local mode")
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#model")).to_have_value("llamacpp:smollm2")
        record_reply_states(page)
        page.fill("#prompt", "Tell me about Paris in three sentences.")
        page.press("#prompt", "Enter")
        meta = page.locator(".message.assistant .meta")
        expect(meta).to_contain_text("reply tokens", timeout=WAIT_MS * 3)
        reply = page.locator(".message.assistant .body").inner_text()
        assert reply.strip(), "the embedded model answered nothing"
        assert len(reply_states(page)) >= 2, reply_states(page)  # it streamed in
        expect(page.locator("#conversations li")).to_have_count(1)
        page.screenshot(path=str(SHOTS / "embedded-model.png"))
        assert watch.errors == []
        assert watch.off_loopback() == []
