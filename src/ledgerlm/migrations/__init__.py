"""Alembic migrations of the ledgerlm schema, shipped inside the package.

Run them with ``ledgerlm.store.migrate(url)`` or ``ledgerlm db upgrade``; there is no ``alembic.ini``.
"""
