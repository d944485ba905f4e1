"""Fixtures for the SDK tests: one simulator per session (real HTTP on a free port)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from ledgerlm.simulator import Simulator

_counter = itertools.count()


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """The project's provider simulator, listening on 127.0.0.1:<free port>."""
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def base(sim: Simulator) -> str:
    """OpenAI-style base URL of the simulator."""
    return f"{sim.url}/v1"


@pytest.fixture
def key() -> str:
    """A unique fail_key per test, so ``fail_times`` counters never leak between tests."""
    return f"k-{uuid.uuid4().hex}-{next(_counter)}"
