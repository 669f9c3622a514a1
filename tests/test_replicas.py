"""Two ``habla serve`` processes sharing one PostgreSQL database and one Redis, the way
operators run replicas: limits hold across both together, a token budget serves exactly
what it covers under concurrency, and each replica sees what the other wrote.

Each run gets a fresh PostgreSQL database and its own Redis key prefix. Replies come
from the scripted backend, slowed down so that concurrent requests really overlap.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import pgtest
from redistest import REDIS_URL, drop_keys
from seeding import SECRET, seed_accounts
from servers import HablaProcess

LONG_REPLY = " ".join(f"word{i}" for i in range(200))
REPLY_BUDGET = 5  # every reply is cut at this, so a request uses exactly what it reserved


@dataclass
class Replicas:
    urls: tuple[str, str]
    keys: dict[str, str]

    def client(self, replica: int, user: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[user]}"}
        return httpx.Client(base_url=self.urls[replica], headers=headers, timeout=60)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, output_dir: Path) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    database = pgtest.create_database()
    prefix = f"habla-test-{uuid.uuid4().hex}"
    script = tmp / "script.json"
    script.write_text(f'{{"replies": [{{"text": "{LONG_REPLY}", "delay": 0.05}}]}}')
    keys = seed_accounts(database, users=("ana", "bob", "carol", "dave"))
    env = {
        "HABLA_DATABASE_URL": database,
        "HABLA_REDIS_URL": REDIS_URL,
        "HABLA_REDIS_KEY_PREFIX": prefix,
        "HABLA_JWT_SECRET": SECRET,
        "HABLA_DEFAULT_MODEL": "scripted:t",
        "HABLA_SCRIPTED_FILE": str(script),
        "HABLA_USER_CONCURRENT_STREAMS": "50",
    }
    try:
        with ExitStack() as stack:
            urls = tuple(
                stack.enter_context(
                    HablaProcess(
                        {**env, "HABLA_DATA_DIR": str(tmp / f"data{n}")},
                        log_path=output_dir / f"replica-{n}.log",
                    )
                ).url
                for n in (0, 1)
            )
            yield Replicas((urls[0], urls[1]), keys)
    finally:
        asyncio.run(_drop_redis_keys(prefix))
        pgtest.drop_database(database)


async def _drop_redis_keys(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await drop_keys(client, prefix)
    finally:
        await client.aclose()


def chat(http: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": REPLY_BUDGET}
    return http.post("/v1/chat/completions", json={**body, **extra})


def test_the_rate_limit_holds_across_both_replicas(replicas: Replicas) -> None:
    # dave has the default user limit, 10 requests a minute, and alternates replicas.
    with replicas.client(0, "dave") as one, replicas.client(1, "dave") as two:
        statuses = [chat(one if i % 2 else two, f"q{i}").status_code for i in range(14)]
        assert statuses == [200] * 10 + [429] * 4
        for http in (one, two):
            meter = http.get("/v1/me/usage").json()["limits"]["requests_per_minute"]
            assert (meter["used"], meter["limit"], meter["remaining"]) == (10, 10, 0)


def test_a_token_budget_serves_exactly_what_it_covers(replicas: Replicas) -> None:
    # carol measures what one request costs; bob gets a budget of exactly three of them.
    with replicas.client(0, "carol") as carol:
        measured = chat(carol, "how much?")
        assert measured.status_code == 200
        per_request = measured.json()["usage"]["total_tokens"]
        assert measured.json()["usage"]["completion_tokens"] == REPLY_BUDGET
    served, asked = 3, 8
    with replicas.client(0, "root") as root:
        limits = {"tokens_per_day": served * per_request, "requests_per_minute": 100}
        assert root.patch("/v1/users/bob", json={"limits": limits}).status_code == 200

    clients = [replicas.client(n % 2, "bob") for n in range(asked)]
    try:
        with ThreadPoolExecutor(max_workers=asked) as pool:
            answers = list(pool.map(lambda http: chat(http, "how much?", store=True), clients))
    finally:
        for http in clients:
            http.close()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * served + [429] * (asked - served)
    refused = [a.json()["error"]["code"] for a in answers if a.status_code == 429]
    assert set(refused) == {"insufficient_quota"}

    # Nothing lost, nothing duplicated: each served request stored once, whole.
    for replica in (0, 1):
        with replicas.client(replica, "bob") as bob:
            conversations = bob.get("/v1/conversations").json()["data"]
            assert len(conversations) == served
            for conversation in conversations:
                messages = bob.get(f"/v1/conversations/{conversation['id']}").json()["messages"]
                assert [m["role"] for m in messages] == ["user", "assistant"]
            day = bob.get("/v1/me/usage").json()["limits"]["tokens_per_day"]
            assert (day["used"], day["remaining"]) == (served * per_request, 0)


def test_each_replica_reads_what_the_other_wrote(replicas: Replicas) -> None:
    with replicas.client(0, "ana") as one, replicas.client(1, "ana") as two:
        first = one.post("/chat", json={"prompt": "remember: blue", "max_tokens": REPLY_BUDGET})
        assert first.status_code == 200
        conversation_id = first.json()["conversation_id"]
        second = chat(two, "what colour?", conversation_id=conversation_id)
        assert second.status_code == 200
        stored = one.get(f"/v1/conversations/{conversation_id}").json()["messages"]
        assert [(m["role"], m["content"][:14]) for m in stored] == [
            ("user", "remember: blue"),
            ("assistant", "word0 word1 wo"),
            ("user", "what colour?"),
            ("assistant", "word0 word1 wo"),
        ]
        renamed = two.patch(f"/v1/conversations/{conversation_id}", json={"title": "Colours"})
        assert renamed.status_code == 200
        assert one.get(f"/v1/conversations/{conversation_id}").json()["title"] == "Colours"
        assert two.delete(f"/v1/conversations/{conversation_id}").status_code == 204
        assert one.get(f"/v1/conversations/{conversation_id}").status_code == 404
    with replicas.client(1, "bob") as bob:  # and nobody else's, on either replica
        assert bob.get(f"/v1/conversations/{conversation_id}").status_code == 404


def test_sign_in_failures_count_across_replicas(replicas: Replicas) -> None:
    wrong = {"name": "ana", "password": "not the password at all"}
    statuses = []
    for attempt in range(7):
        url = replicas.urls[attempt % 2]
        statuses.append(httpx.post(f"{url}/v1/auth/token", json=wrong, timeout=30).status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]  # the sixth guess is refused whichever replica gets it
