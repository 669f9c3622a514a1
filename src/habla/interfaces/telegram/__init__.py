"""The Telegram channel: python-telegram-bot in front of the engine, polling or webhook.

``habla telegram`` long-polls (:mod:`.cli`); with a webhook secret configured the API app
mounts ``POST /telegram/webhook`` (:mod:`.webhook`). Both run :class:`.bot.TelegramBot`.
python-telegram-bot is an extra: call :func:`require_telegram` before importing the
modules that use it, so a missing extra is one clear error instead of an ImportError.
"""

from __future__ import annotations

from habla.core.errors import ConfigError

INSTALL_HINT = 'the Telegram bot needs python-telegram-bot: pip install "habla[telegram]"'


def require_telegram() -> None:
    try:
        import telegram  # noqa: F401
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
