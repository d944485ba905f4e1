"""Async engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), from one database URL.

* ``DEFAULT_DATABASE_URL`` is ``sqlite:///./ledgerlm.db`` (a file in the working directory).
* ``resolve_url(url)`` takes the explicit URL, else ``DATABASE_URL`` from the environment, else the
  default, and maps plain driver names to the async ones: ``sqlite://`` -> ``sqlite+aiosqlite://``,
  ``postgresql://`` / ``postgres://`` / ``postgresql+psycopg://`` -> ``postgresql+asyncpg://``.
* ``create_engine(url, search_path=None)`` returns an ``AsyncEngine``; SQLite files run in WAL mode with
  a 5 s busy timeout; ``search_path`` (PostgreSQL only, also accepted as a ``?search_path=SCHEMA`` URL
  parameter) puts every connection in that schema.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DATABASE_URL = "sqlite:///./ledgerlm.db"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def resolve_url(url: str | None = None) -> str:
    """The async SQLAlchemy URL for ``url`` (or ``$DATABASE_URL``, or the SQLite default).

    Raises ``ValueError`` for a database other than SQLite or PostgreSQL.
    """
    raw = url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {raw.split('@')[-1]!r}")
    driver = _ASYNC_DRIVERS.get(scheme.lower())
    if driver is None:
        raise ValueError(f"unsupported database {scheme!r}: use sqlite:// or postgresql://")
    return f"{driver}://{rest}"


def is_sqlite(url: str) -> bool:
    """True when ``url`` (resolved or not) names a SQLite database."""
    return resolve_url(url).startswith("sqlite")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def json_dumps(value: Any) -> str:
    """JSON text for JSON columns: orjson, ``Decimal`` as decimal strings."""
    return orjson.dumps(value, default=_json_default).decode()


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def split_search_path(url: str) -> tuple[str, str | None]:
    """``(url without it, schema)`` for a PostgreSQL URL carrying ``?search_path=SCHEMA``."""
    parsed = make_url(url)
    schema = parsed.query.get("search_path")
    if schema is None:
        return url, None
    cleaned = parsed.difference_update_query(["search_path"])
    return cleaned.render_as_string(hide_password=False), str(schema)


def create_engine(
    url: str | None = None,
    *,
    search_path: str | None = None,
    application_name: str = "ledgerlm",
    **kwargs: Any,
) -> AsyncEngine:
    """An ``AsyncEngine`` for ``url`` (see ``resolve_url``); extra ``kwargs`` go to SQLAlchemy.

    PostgreSQL: ``search_path`` (or a ``?search_path=SCHEMA`` URL parameter) puts ledgerlm's tables in
    that schema; ``application_name`` names the connections in ``pg_stat_activity``.
    """
    resolved, url_schema = split_search_path(resolve_url(url))
    search_path = search_path or url_schema
    options: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
    if resolved.startswith("postgresql"):
        settings = {"application_name": application_name}
        if search_path:
            settings["search_path"] = search_path
        options["pool_pre_ping"] = True
        options["connect_args"] = {"server_settings": settings}
    options.update(kwargs)
    engine = create_async_engine(resolved, **options)
    if resolved.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


def redact_url(url: str) -> str:
    """``url`` with any password hidden, for logs and messages."""
    return make_url(resolve_url(url)).render_as_string(hide_password=True)
