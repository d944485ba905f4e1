"""Throw-away PostgreSQL databases on the machine's shared server, and whole-database dumps.

``temp_database(base_url)`` creates ``ledgerlm_rel_<random>`` and drops it (``WITH (FORCE)``) afterwards,
so tests never touch other engineers' data. ``dump_tables(url)`` returns every row of every table as text
(the secrets suite searches it for canaries).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa


def _server_url(base_url: str, database: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + database


@contextmanager
def temp_database(base_url: str, prefix: str = "ledgerlm_rel") -> Iterator[str]:
    """Yield the URL of a new, empty database on ``base_url``'s server; dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(base_url, name)
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sync_engine(database_url: str) -> sa.Engine:
    """A synchronous engine (psycopg 3 for PostgreSQL, sqlite3 for SQLite) without pooling."""
    if database_url.startswith("postgresql") and "+" not in database_url.split("://", 1)[0]:
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return sa.create_engine(database_url, poolclass=sa.pool.NullPool)


def dump_tables(database_url: str) -> dict[str, str]:
    """``{table name: every row of it, repr'd, one per line}`` for every table of the database."""
    engine = sync_engine(database_url)
    try:
        out: dict[str, str] = {}
        with engine.connect() as conn:
            for name in sa.inspect(conn).get_table_names():
                rows = conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()
                out[name] = "\n".join(repr(tuple(r)) for r in rows)
        return out
    finally:
        engine.dispose()


def count(database_url: str, sql: str, **params: object) -> int:
    """The integer result of one ``SELECT count(*) ...``."""
    engine = sync_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql), params).scalar_one())
    finally:
        engine.dispose()
