"""Fixtures shared by the reliability suites; each suite's ``conftest.py`` star-imports this module.

* ``simulator`` / ``proxy_factory``: the e2e suite's own fixtures (``tests/e2e/conftest.py``), re-used as is:
  the provider simulator over real HTTP and ``proxy_factory(database_url, **sections) -> Proxy`` (the real
  proxy app on uvicorn in a thread, stopped at module end).
* ``pg_database``: a fresh database on the machine's PostgreSQL for the test module (dropped after).
  Request it BEFORE ``proxy_factory`` (``def proxy(pg_database, proxy_factory)``) so the proxies stop
  before the database is dropped (else their writers wait on a vanished database at teardown).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.conftest import proxy_factory, simulator
from tests.helpers.pg import temp_database

__all__ = ["pg_database", "proxy_factory", "simulator"]


@pytest.fixture(scope="module")
def pg_database(postgres_url: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database for this test module."""
    with temp_database(postgres_url) as url:
        yield url
