"""Ledger tests run on SQLite AND PostgreSQL: the store suite's ``database`` / ``engine`` fixtures
(a migrated SQLite file, or a fresh schema in the machine's PostgreSQL, one per test module)."""

from __future__ import annotations

from tests.store.conftest import database, engine

__all__ = ["database", "engine"]
