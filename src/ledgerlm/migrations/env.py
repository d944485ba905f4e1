"""Alembic environment: runs on the connection that ``ledgerlm.store.migrate`` passes in.

``ledgerlm.store.migrate`` opens an async engine, then calls Alembic inside ``run_sync`` with the sync
connection in ``config.attributes["connection"]`` (the Alembic "asyncio" cookbook recipe).
"""

from __future__ import annotations

from alembic import context

from ledgerlm.store.migrate import VERSION_TABLE
from ledgerlm.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run ledgerlm migrations through ledgerlm.store.migrate(url) or `ledgerlm db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
