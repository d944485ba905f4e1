"""ledgerlm's storage: spend logs that are never lost or doubled, daily aggregates, management entities.

Public API (for the proxy; everything else in this package is internal)::

    from ledgerlm.store import SpendLog, Spool, SpendWriter, create_engine, migrate_async

    engine = create_engine(database_url)        # AsyncEngine; None -> $DATABASE_URL -> sqlite:///./ledgerlm.db
    await migrate_async(engine)                 # Alembic upgrade to head (sync twin: migrate(url))
    spool = Spool(spool_dir, fsync=False)       # append-only local spool (one per process)
    writer = SpendWriter(engine, spool, batch_size=500, interval_s=0.05)
    await writer.start()                        # replays anything spooled by an earlier process first

    # per call, before the response is sent (sync, ~10 us, raises SpoolError when the disk fails):
    spool.append(SpendLog.from_record(record, store_prompts=False))

    spool.healthy() / spool.unhealthy_reason     # for /health/readiness (also writer.running)
    writer.queue_depth, writer.spool_bytes, writer.rows_written, writer.rows_rejected, writer.last_error
    await writer.flush(timeout_s=10)             # True once everything appended so far is committed
    await writer.stop()                          # seals the spool and drains it (bounded by timeout_s)

Repositories for the management API (async functions taking the ``AsyncEngine``, rows as dicts):
``store.keys`` (``generate_key``, ``hash_key``, ``create_key``, ``get_key``, ``update_key``,
``delete_key``, ``list_keys``), ``store.teams``, ``store.users``, ``store.customers``, ``store.tags``,
``store.organizations`` (``create_*``, ``get_*``, ``update_*``, ``delete_*``, ``list_*``). Spend
queries for the spend API: ``store.spend_queries``. Tables: ``store.tables``. Money is ``Decimal`` USD
(``coltypes.money_str`` for JSON); times are aware UTC datetimes.
"""

from __future__ import annotations

from ledgerlm.store._crud import AlreadyExistsError
from ledgerlm.store.coltypes import money_str
from ledgerlm.store.engine import DEFAULT_DATABASE_URL, create_engine, resolve_url
from ledgerlm.store.migrate import migrate, migrate_async
from ledgerlm.store.spend_log import SpendLog
from ledgerlm.store.spool import Spool, SpoolError
from ledgerlm.store.writer import SpendWriter

__all__ = [
    "DEFAULT_DATABASE_URL",
    "AlreadyExistsError",
    "SpendLog",
    "SpendWriter",
    "Spool",
    "SpoolError",
    "create_engine",
    "migrate",
    "migrate_async",
    "money_str",
    "resolve_url",
]
