"""Accounts for tests, made the way an operator makes them (the CLI's actor ``None``)."""

from __future__ import annotations

import asyncio

from habla.auth.service import AccountService
from habla.store.sql import SqlStore

SECRET = "7c1e9a52d4b8f3061a2e5c7d9b4f8e13a6c2d5f7e9b1a3c4"
PASSWORD = "correct horse battery staple"


def seed_accounts(url: str, users: tuple[str, ...] = ("ana", "bob")) -> dict[str, str]:
    """An admin ``root`` (with PASSWORD), ``ana`` (with PASSWORD) and the other ``users``
    (keys only), each with an API key; returns name -> key."""

    async def seed() -> dict[str, str]:
        store = SqlStore(url)
        await store.start()
        try:
            accounts = AccountService(store, jwt_secret=SECRET)
            await accounts.create_user(None, "root", "admin", PASSWORD)
            for name in users:
                await accounts.create_user(None, name, "user", PASSWORD if name == "ana" else None)
            keys = {}
            for name in ("root", *users):
                keys[name], _ = await accounts.create_key(None, name, "test")
            return keys
        finally:
            await store.close()

    return asyncio.run(seed())
