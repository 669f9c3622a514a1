"""Data at rest, as the runtime composes it: the keyring from settings, audited purges and
key rotations, and the retention sweeper that runs inside the server.

The store does the SQL (:mod:`habla.store.sql_data`, :mod:`habla.store.sql_retention`);
this module decides cutoffs, writes the audit rows (counts and key ids, never content or
keys) and owns the sweeper task. The CLI calls these functions; it never touches the
store's modules itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta

from habla.core.errors import ConfigError, HablaError
from habla.settings import Settings
from habla.store.accounts import AuditEntry
from habla.store.crypto import Keyring, new_key
from habla.store.sql import SqlStore
from habla.store.sql_data import Progress, RotationReport
from habla.store.sql_retention import PurgeCounts

log = logging.getLogger(__name__)

__all__ = [
    "PurgeCounts",
    "RetentionSweeper",
    "RotationReport",
    "build_keyring",
    "new_data_key",
    "parse_age",
    "purge",
    "rotate_data_key",
]

_AGE = re.compile(r"^\s*(\d{1,6})\s*([dh])\s*$")


def new_data_key() -> str:
    """A fresh base64 data key for ``HABLA_ENCRYPTION_KEY``."""
    return new_key()


def build_keyring(settings: Settings) -> Keyring | None:
    """None when encryption is off; a :class:`~habla.core.errors.ConfigError` for a bad key."""
    if settings.encryption_key is None:
        if settings.encryption_old_keys:
            # Old keys alone would read but never write encrypted: surely a mistake.
            raise ConfigError(
                "HABLA_ENCRYPTION_OLD_KEYS is set but HABLA_ENCRYPTION_KEY is not;"
                " old keys are only for reading alongside a current key"
            )
        return None
    return Keyring.from_settings(
        settings.encryption_key.get_secret_value(),
        [key.get_secret_value() for key in settings.encryption_old_keys],
    )


def parse_age(text: str) -> timedelta:
    """``30d`` or ``12h`` -> a timedelta; :class:`ValueError` with a readable message."""
    match = _AGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an age like 30d or 12h")
    amount, unit = int(match.group(1)), match.group(2)
    if amount < 1:
        raise ValueError("the age must be at least 1h (0 would delete everything)")
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


async def purge(
    store: SqlStore,
    *,
    older_than: timedelta,
    batch_size: int,
    dry_run: bool = False,
    actor: str = "cli",
    audit_nothing: bool = True,
) -> PurgeCounts:
    """Hard-delete what is older than ``older_than`` (audited unless ``dry_run``, and
    unless nothing went and ``audit_nothing`` is off: the sweeper's idle rounds)."""
    cutoff = datetime.now(UTC) - older_than
    counts = await store.purge_older_than(cutoff, batch_size=batch_size, dry_run=dry_run)
    anything = counts.messages or counts.usage or counts.conversations
    if not dry_run and (anything or audit_nothing):
        detail = f"{counts} cutoff={cutoff.isoformat(timespec='seconds')}"
        await store.append_audit(
            AuditEntry(datetime.now(UTC), actor, "data.purged", "retention", detail=detail)
        )
    return counts


async def rotate_data_key(
    store: SqlStore, *, batch_size: int, progress: Progress | None = None, actor: str = "cli"
) -> RotationReport:
    """Re-encrypt every row not under the current key; audited with the key ids."""
    report = await store.rotate_data_key(batch_size=batch_size, progress=progress)
    detail = f"rows={report.rows} from={','.join(report.from_key_ids) or '-'}"
    await store.append_audit(
        AuditEntry(datetime.now(UTC), actor, "data.key_rotated", report.to_key_id, detail=detail)
    )
    return report


class RetentionSweeper:
    """Purges data older than ``retention`` every ``interval`` seconds, in the background.

    A failed sweep is logged and retried at the next interval; it never stops the server.
    Several replicas may sweep the same database: deletes are idempotent.
    """

    def __init__(
        self, store: SqlStore, *, retention: timedelta, interval: float, batch_size: int
    ) -> None:
        self._store = store
        self._retention = retention
        self._interval = interval
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="habla-retention-sweeper")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def sweep_once(self) -> PurgeCounts:
        return await purge(
            self._store,
            older_than=self._retention,
            batch_size=self._batch_size,
            actor="retention",
            audit_nothing=False,
        )

    async def _run(self) -> None:
        while True:
            try:
                counts = await self.sweep_once()
                log.info("retention sweep: %s", counts)
            except (HablaError, OSError, ValueError) as exc:
                log.warning("retention sweep failed, retrying next interval: %s", exc)
            except Exception:  # a bug must not kill the server's sweeping for good
                log.exception("retention sweep failed, retrying next interval")
            await asyncio.sleep(self._interval)


def build_sweeper(settings: Settings, store: SqlStore) -> RetentionSweeper | None:
    if settings.retention_days is None:
        return None
    return RetentionSweeper(
        store,
        retention=timedelta(days=settings.retention_days),
        interval=settings.retention_interval_seconds,
        batch_size=settings.purge_batch_size,
    )
