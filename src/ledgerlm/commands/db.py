"""``ledgerlm db``: database schema and spool maintenance.

* ``ledgerlm db upgrade [--database-url URL]``: run the packaged Alembic migrations to the newest revision.
* ``ledgerlm db current [--database-url URL]``: print the revision the database is at.
* ``ledgerlm db replay-spool DIR [--database-url URL]``: write every spooled row in ``DIR`` into the
  database (idempotent; for a spool left behind by a proxy that will not be restarted).

The URL defaults to ``$DATABASE_URL``, then ``sqlite:///./ledgerlm.db``; ``postgresql://`` is accepted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

URL_HELP = "Database URL (default: $DATABASE_URL, else sqlite:///./ledgerlm.db)."
UrlOption = Annotated[str | None, typer.Option("--database-url", help=URL_HELP)]
DirArgument = Annotated[
    Path,
    typer.Argument(help="A spool directory (segment files *.jsonl).", exists=True, file_okay=False),
]


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to ``app``."""
    db = typer.Typer(help="Database schema (Alembic migrations) and spool maintenance.", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade(database_url: UrlOption = None) -> None:
        """Upgrade the database schema to the newest revision."""
        from ledgerlm.store.engine import redact_url
        from ledgerlm.store.migrate import migrate

        revision = migrate(database_url)
        typer.echo(f"{redact_url(database_url or '')} is at revision {revision}")

    @db.command("current")
    def current(database_url: UrlOption = None) -> None:
        """Print the schema revision of the database (exit 1 when never migrated)."""
        revision = asyncio.run(_current(database_url))
        typer.echo(revision or "not migrated")
        if revision is None:
            raise typer.Exit(1)

    @db.command("replay-spool")
    def replay_spool(directory: DirArgument, database_url: UrlOption = None) -> None:
        """Write every spooled spend row into the database, then delete the finished segments."""
        written, duplicate, rejected, left = asyncio.run(_replay(directory, database_url))
        typer.echo(f"written {written}, already present {duplicate}, rejected {rejected}, left {left} bytes")
        if left:
            raise typer.Exit(1)

    app.add_typer(db, name="db")


async def _current(database_url: str | None) -> str | None:
    from ledgerlm.store.engine import create_engine
    from ledgerlm.store.migrate import current_revision

    engine = create_engine(database_url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


async def _replay(directory: Path, database_url: str | None) -> tuple[int, int, int, int]:
    """``(rows written, already present, rejected, bytes left)`` after draining ``directory``."""
    from ledgerlm.store import SpendWriter, Spool, create_engine

    engine = create_engine(database_url)
    spool = Spool(directory)
    writer = SpendWriter(engine, spool)
    try:
        await writer.start()
        await writer.stop(timeout_s=300)
        return writer.rows_written, writer.rows_duplicate, writer.rows_rejected, spool.disk_bytes()
    finally:
        await engine.dispose()
