"""Run the packaged Alembic migrations (``ledgerlm/migrations``) against a database.

* ``migrate(url)``: sync; upgrades the database at ``url`` to the newest revision.
* ``await migrate_async(engine)``: the same on an existing ``AsyncEngine`` (use inside a running loop,
  e.g. the proxy's start-up).
* ``current_revision`` / ``head_revision``: what the database has and what the package ships.

The version is kept in the ``ledgerlm_alembic_version`` table so that ledgerlm can share a database
with an application that uses Alembic itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store.engine import create_engine

VERSION_TABLE = "ledgerlm_alembic_version"
SCRIPT_LOCATION = "ledgerlm:migrations"


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str:
    """The newest revision shipped in the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found in ledgerlm/migrations")
    return head


def _upgrade(sync_connection: Any, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)


def _current(sync_connection: Any) -> str | None:
    context = MigrationContext.configure(sync_connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


async def migrate_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: newest) in one transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def migrate(url: str | None = None, *, search_path: str | None = None) -> str:
    """Upgrade the database at ``url`` (see ``engine.resolve_url``) to the newest revision.

    Returns the revision now current. Must not be called from inside a running event loop (use
    ``migrate_async`` there).
    """

    async def run() -> str:
        engine = create_engine(url, search_path=search_path)
        try:
            await migrate_async(engine)
            return await current_revision(engine) or ""
        finally:
            await engine.dispose()

    return asyncio.run(run())
