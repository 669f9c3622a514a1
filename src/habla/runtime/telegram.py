"""Building the engine-side Telegram services from the settings, for the Telegram channel
and the CLI (``habla users link-telegram``). Nothing here imports python-telegram-bot."""

from __future__ import annotations

from dataclasses import dataclass

from habla.auth.ldap import (
    CachedDirectory,
    GroupDirectory,
    LdapGroupDirectory,
    ldap3_connection_factory,
)
from habla.auth.telegram_access import Allowlist, TelegramAccess
from habla.chat.telegram_state import TelegramChats
from habla.core.errors import ConfigError
from habla.runtime import Runtime
from habla.settings import Settings


@dataclass(frozen=True)
class TelegramServices:
    access: TelegramAccess
    chats: TelegramChats


def build_telegram(runtime: Runtime) -> TelegramServices:
    settings = runtime.settings
    access = TelegramAccess(
        runtime.store,
        allowlist=Allowlist.parse(settings.telegram_allowed),
        directory=build_directory(settings),
        code_ttl_seconds=settings.telegram_link_code_minutes * 60,
    )
    chats = TelegramChats(runtime.store, idle_seconds=settings.telegram_idle_minutes * 60)
    return TelegramServices(access, chats)


def build_directory(settings: Settings) -> GroupDirectory | None:
    if settings.ldap_url is None:
        return None
    if not settings.ldap_group_dn or not settings.ldap_user_dn_template:
        raise ConfigError("LDAP needs HABLA_LDAP_GROUP_DN and HABLA_LDAP_USER_DN_TEMPLATE")
    password = settings.ldap_bind_password
    connect = ldap3_connection_factory(
        settings.ldap_url,
        settings.ldap_bind_dn,
        password.get_secret_value() if password is not None else None,
    )
    directory = LdapGroupDirectory(
        connect,
        group_dn=settings.ldap_group_dn,
        user_dn_template=settings.ldap_user_dn_template,
        member_attribute=settings.ldap_member_attribute,
    )
    return CachedDirectory(directory, ttl_seconds=settings.ldap_cache_seconds)
