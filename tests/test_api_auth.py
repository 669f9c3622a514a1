"""Accounts over real HTTP: credentials on every route, ownership as 404, admin-only
actions as 403, sign-in tokens, revoked keys and disabled users refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from habla.auth.records import AuditRecord
from habla.interfaces.api.app import create_app
from habla.settings import Settings
from habla.store.sql import SqlStore
from seeding import PASSWORD, SECRET, seed_accounts
from servers import ThreadedServer


@pytest.fixture
def api(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    settings = make_settings(
        default_model="scripted:t", scripted_file=write_script(["hello"]), jwt_secret=SECRET
    )
    keys = seed_accounts(settings.resolved_database_url)
    with ThreadedServer(create_app(settings)) as server:
        yield server.url, keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_route_but_health_needs_credentials(api: tuple[str, dict[str, str]]) -> None:
    url, _ = api
    with httpx.Client(base_url=url) as http:
        assert http.get("/healthz").status_code == 200
        for method, path in [
            ("GET", "/v1/models"),
            ("POST", "/v1/chat/completions"),
            ("POST", "/chat"),
            ("GET", "/v1/conversations"),
            ("GET", "/v1/me/usage"),
            ("GET", "/v1/keys"),
            ("GET", "/v1/users"),
        ]:
            response = http.request(method, path, json={"prompt": "x"})
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"]["type"] == "authentication_error"
        for junk in ["Bearer ' OR 1=1 --", "Bearer hbl_x_y", "Basic abc", "Bearer " + "a" * 5000]:
            refused = http.get("/v1/models", headers={"Authorization": junk})
            assert refused.status_code == 401
            assert "sql" not in refused.text.lower()


def test_ownership_is_404_on_every_conversation_route(api: tuple[str, dict[str, str]]) -> None:
    url, keys = api
    with httpx.Client(base_url=url) as http:
        mine = http.post("/chat", json={"prompt": "ana's secret"}, headers=bearer(keys["ana"]))
        assert mine.status_code == 200
        cid = mine.json()["conversation_id"]
        bob = bearer(keys["bob"])
        assert http.get("/v1/conversations", headers=bob).json()["data"] == []
        assert http.get(f"/v1/conversations/{cid}", headers=bob).status_code == 404
        assert http.get(f"/v1/conversations/{cid}/messages", headers=bob).status_code == 404
        assert (
            http.patch(f"/v1/conversations/{cid}", json={"title": "x"}, headers=bob).status_code
            == 404
        )
        assert http.delete(f"/v1/conversations/{cid}", headers=bob).status_code == 404
        cont = {"prompt": "more", "conversation_id": cid}
        assert http.post("/chat", json=cont, headers=bob).status_code == 404
        body = {"messages": [{"role": "user", "content": "x"}], "conversation_id": cid}
        assert http.post("/v1/chat/completions", json=body, headers=bob).status_code == 404
        ana = http.get(f"/v1/conversations/{cid}", headers=bearer(keys["ana"])).json()
        assert [m["content"] for m in ana["messages"]] == ["ana's secret", "hello"]


def test_admin_actions_are_refused_to_users(api: tuple[str, dict[str, str]]) -> None:
    url, keys = api
    ana, root = bearer(keys["ana"]), bearer(keys["root"])
    with httpx.Client(base_url=url) as http:
        assert http.get("/v1/users", headers=ana).status_code == 403
        created = http.post("/v1/users", json={"name": "eve", "role": "admin"}, headers=ana)
        assert created.status_code == 403
        assert http.patch("/v1/users/ana", json={"role": "admin"}, headers=ana).status_code == 403
        for_bob = http.post("/v1/keys", json={"user": "bob"}, headers=ana)
        assert for_bob.status_code == 403
        assert http.get("/v1/users", headers=root).status_code == 200


def test_sign_in_tokens_revocation_and_disabling(api: tuple[str, dict[str, str]]) -> None:
    url, keys = api
    with httpx.Client(base_url=url) as http:
        wrong = http.post("/v1/auth/token", json={"name": "ana", "password": "nope nope nope"})
        assert wrong.status_code == 401
        signed = http.post("/v1/auth/token", json={"name": "ana", "password": PASSWORD})
        assert signed.status_code == 200
        token = signed.json()["access_token"]
        assert http.get("/v1/me", headers=bearer(token)).json()["name"] == "ana"
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert http.get("/v1/me", headers=bearer(tampered)).status_code == 401

        new = http.post("/v1/keys", json={"name": "laptop"}, headers=bearer(token)).json()
        assert http.get("/v1/me", headers=bearer(new["key"])).status_code == 200
        assert http.delete(f"/v1/keys/{new['id']}", headers=bearer(token)).status_code == 204
        assert http.get("/v1/me", headers=bearer(new["key"])).status_code == 401

        root = bearer(keys["root"])
        assert http.patch("/v1/users/ana", json={"enabled": False}, headers=root).status_code == 200
        assert http.get("/v1/me", headers=bearer(keys["ana"])).status_code == 401
        assert http.get("/v1/me", headers=bearer(token)).status_code == 401


def read_audit(url: str) -> list[AuditRecord]:
    async def tail() -> list[AuditRecord]:
        store = SqlStore(url)
        await store.start()
        try:
            return await store.tail_audit(1000)
        finally:
            await store.close()

    return asyncio.run(tail())


def test_per_user_limits_over_http_and_refusals_audited(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path]
) -> None:
    settings = make_settings(
        default_model="scripted:t",
        scripted_file=write_script(["ok"]),
        jwt_secret=SECRET,
        user_requests_per_minute=50,
    )
    keys = seed_accounts(settings.resolved_database_url)
    ana, root = bearer(keys["ana"]), bearer(keys["root"])
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    with ThreadedServer(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        for bad in ({"requests_per_minute": 0}, {"tokens_per_day": "lots"}, {"rpm": 3}):
            refused = http.patch("/v1/users/ana", json={"limits": bad}, headers=root)
            assert refused.status_code == 400, bad
        limited = {"requests_per_minute": 2, "tokens_per_day": None}
        changed = http.patch("/v1/users/ana", json={"limits": limited}, headers=root)
        assert changed.status_code == 200
        assert changed.json()["limits"] == {**limited, "tokens_per_month": None}
        own = http.patch("/v1/users/ana", json={"limits": {"requests_per_minute": 99}}, headers=ana)
        assert own.status_code == 403

        answered = [http.post("/v1/chat/completions", json=chat, headers=ana) for _ in "12"]
        assert [response.status_code for response in answered] == [200, 200]
        statuses = [http.post("/chat", json={"prompt": "x"}, headers=ana).status_code for _ in "12"]
        assert statuses == [429, 429]
        usage = http.get("/v1/me/usage", headers=ana).json()["limits"]["requests_per_minute"]
        assert (usage["limit"], usage["remaining"]) == (2, 0)
        # Bob keeps the server-wide limit.
        assert http.post("/chat", json={"prompt": "x"}, headers=bearer(keys["bob"])).is_success
        for _ in range(15):  # a client retrying in a loop
            http.post("/chat", json={"prompt": "x"}, headers=ana)

    rows = [row for row in read_audit(settings.resolved_database_url) if row.actor == "ana"]
    limited_rows = [row for row in rows if row.action == "request.limited"]
    assert 2 <= len(limited_rows) <= 10  # sampled: at most 10 a minute per user
    first = limited_rows[0]
    assert (first.target, first.ip) == ("ana", "127.0.0.1")
    assert first.detail.startswith("rate_limit_exceeded: ")
    changes = [row for row in read_audit(settings.resolved_database_url) if row.target == "ana"]
    assert any(row.action == "user.limits_changed" and row.actor == "root" for row in changes)
