"""Shared bits of the ledger commands (``reprice``, ``period``, ``export``, ``prices history``).

* ``open_engine(url)``: an ``AsyncEngine`` for ``--database-url`` (else ``$DATABASE_URL``); a SQLite
  file that does not exist is an error, never a new empty database;
* ``parse_bound(text, name, end=False)``: ``YYYY-MM-DD`` (a UTC day; as an ``end`` the day is
  INCLUDED: the bound is the next midnight) or an ISO-8601 datetime (naive = UTC; exact bound);
* ``actor()``: who runs the command (``$LEDGERLM_ACTOR``, else the login name).
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["UrlOption", "actor", "open_engine", "parse_bound"]

UrlOption = Annotated[
    str | None, typer.Option("--database-url", help="Database URL (default: $DATABASE_URL).")
]


def open_engine(url: str | None) -> AsyncEngine:
    """The engine for ``url``; raises ``FileNotFoundError`` for a missing SQLite file."""
    from ledgerlm.store.engine import create_engine, resolve_url

    resolved = resolve_url(url)
    if resolved.startswith("sqlite"):
        path = resolved.split(":///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).exists():
            raise FileNotFoundError(f"no SQLite database at {path}: pass --database-url")
    return create_engine(url)


def parse_bound(text: str, name: str, *, end: bool = False) -> datetime:
    """A UTC bound from ``text`` (see the module docstring); ``typer.BadParameter`` otherwise."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD or an ISO datetime, got {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def actor() -> str:
    """Who runs the command: ``$LEDGERLM_ACTOR``, else the login name, else ``"unknown"``."""
    try:
        return os.environ.get("LEDGERLM_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
