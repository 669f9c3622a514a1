"""No API key, JWT or password reaches the server's log, even at debug level, through
every path that handles one: sign-in (right and wrong), keys made, used and revoked,
tokens used and forged, injection-shaped bearers. The whole suite's logs are scraped
again at the end of the run (``conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import httpx

import logscrape
from seeding import PASSWORD, SECRET, seed_accounts
from servers import HablaProcess


def test_the_scraper_finds_what_it_looks_for() -> None:
    key = "hbl_a1b2c3d4_" + "x" * 43
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEiLCJleHAiOjF9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    lines = f"INFO a: key {key}\nINFO b: nothing\nDEBUG c: {token}\nWARN d: pw={PASSWORD}"
    found = logscrape.scan_text(lines, "t.log")
    assert [hit.split(" ", 1)[1].split(" (")[0] for hit in found] == ["API key", "JWT", "password"]
    assert all(key not in hit and token not in hit for hit in found)  # reports never repeat one


def test_no_credential_reaches_the_log_at_debug_level(tmp_path: Path, output_dir: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'habla.db'}"
    keys = seed_accounts(url)
    log_path = output_dir / "scrape-server.log"
    env = {
        "HABLA_DATA_DIR": str(data),
        "HABLA_JWT_SECRET": SECRET,
        "HABLA_DEFAULT_MODEL": "echo:echo",
    }
    used: list[str] = [*keys.values(), PASSWORD, SECRET]
    with (
        HablaProcess(env, log_path=log_path, log_level="debug") as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        wrong = http.post("/v1/auth/token", json={"name": "ana", "password": "wrong " * 3})
        assert wrong.status_code == 401
        # A password typed into the name field is an unknown user, and not logged.
        typo = http.post("/v1/auth/token", json={"name": PASSWORD, "password": PASSWORD})
        assert typo.status_code == 401
        signed = http.post("/v1/auth/token", json={"name": "ana", "password": PASSWORD})
        token = signed.json()["access_token"]
        used.append(token)
        ana = {"Authorization": f"Bearer {token}"}
        made = http.post("/v1/keys", json={"name": "scrape"}, headers=ana).json()
        used.append(made["key"])
        chat = {"messages": [{"role": "user", "content": "hello"}]}
        mine = {"Authorization": f"Bearer {made['key']}"}
        assert http.post("/v1/chat/completions", json=chat, headers=mine).status_code == 200
        assert http.delete(f"/v1/keys/{made['id']}", headers=ana).status_code == 204
        assert http.get("/v1/me", headers=mine).status_code == 401
        for bearer in (token[:-3] + "xyz", "' OR 1=1 --", made["key"] + "x", "hbl_x_y"):
            refused = http.get("/v1/me", headers={"Authorization": f"Bearer {bearer}"})
            assert refused.status_code == 401
    text = log_path.read_text(encoding="utf-8")
    assert "POST /v1/auth/token" in text  # the log really was written, at debug level
    assert logscrape.scan_text(text, log_path.name) == []
    for secret in used:
        assert secret not in text
