"""Shared test fixtures: real services (PostgreSQL, Redis) and the shared fixture corpus.

Services: tests that need PostgreSQL or Redis use the ``postgres_url`` / ``redis_url`` fixtures. When a
service is unreachable they skip with the reason, except under ``CI=true`` (set by ``.ci/run``), where an
unreachable service fails the test: CI must never pass by skipping the real parts.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
CASES = SHARED / "cases"

POSTGRES_URL = os.environ.get("LEDGERLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LEDGERLM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: .ci/run should have started it)")
    pytest.skip(f"{message}; start it or run .ci/run")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A SQLAlchemy-style URL of the machine's PostgreSQL (database ``test``, trust auth)."""
    _require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the machine's Redis."""
    _require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures``: recorded provider payloads. Skips the conformance suite when absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"conformance suite skipped: {FIXTURES} is absent (it exists in CI)")
    return FIXTURES


@pytest.fixture(scope="session")
def shared_cases() -> Path:
    """``../shared/cases``: hand-checked cost cases. Skips when absent."""
    if not CASES.is_dir():
        pytest.skip(f"shared cost cases skipped: {CASES} is absent (it exists in CI)")
    return CASES


# --- callbacks (issue 4): an unexpected callback error fails the test ---------------------------------

CALLBACK_ERRORS_MARKER = "callback_errors_expected"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{CALLBACK_ERRORS_MARKER}: the test makes callbacks raise on purpose (their errors do not fail it)",
    )


@pytest.fixture(autouse=True)
def _callback_errors_fail_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test when a callback hook or sink raised during it (``ledgerlm.callbacks`` counts and logs
    such errors without propagating them). Opt out with ``@pytest.mark.callback_errors_expected``."""
    from ledgerlm.callbacks.dispatcher import all_dispatchers, get_dispatcher

    get_dispatcher()
    # the process-wide dispatcher and every live runtime's (a proxy app's own)
    before = {dispatcher: dispatcher.stats()["errors"] for dispatcher in all_dispatchers()}
    yield
    errors = []
    for dispatcher in all_dispatchers():
        if dispatcher.started and dispatcher.stats()["pending"]:
            dispatcher.flush(timeout=2.0)
        errors += dispatcher.errors_since(before.get(dispatcher, 0))
    if errors and request.node.get_closest_marker(CALLBACK_ERRORS_MARKER) is None:
        details = "\n".join(f"{e.label}: {e.error}\n{e.traceback}" for e in errors)
        pytest.fail(
            f"{len(errors)} callback error(s) during the test (mark it {CALLBACK_ERRORS_MARKER} if "
            f"intended):\n{details}"
        )
