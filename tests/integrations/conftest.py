"""Fixtures for the exporter tests (helpers live in ``exporter_support``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from exporter_support import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started receiver, stopped after the test."""
    rec = Receiver()
    await rec.start()
    yield rec
    await rec.stop()
