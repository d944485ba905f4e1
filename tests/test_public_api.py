"""The public SDK surface: ``ledgerlm.__all__`` and a cheap, side-effect-free import."""

from __future__ import annotations

import subprocess
import sys

import ledgerlm

EXPECTED = {
    "__version__",
    "completion",
    "acompletion",
    "embedding",
    "aembedding",
    "ModelResponse",
    "ModelResponseStream",
    "EmbeddingResponse",
    "CustomStreamWrapper",
    "Ledger",
    "Usage",
    "Cost",
    "CallContext",
    "CallRecord",
    "Deployment",
    "Simulator",
    "APIError",
    "RateLimitError",
    "APITimeoutError",
    "MissingAPIKeyError",
    "completion_cost",
}


def test_all_lists_the_public_surface() -> None:
    assert set(ledgerlm.__all__) >= EXPECTED
    assert len(ledgerlm.__all__) == len(set(ledgerlm.__all__)), "no duplicates"
    assert list(ledgerlm.__all__) == sorted(ledgerlm.__all__)


def test_every_name_in_all_resolves() -> None:
    for name in ledgerlm.__all__:
        assert getattr(ledgerlm, name) is not None, name
    assert ledgerlm.completion.__module__ == "ledgerlm.sdk"
    assert ledgerlm.Usage.__module__ == "ledgerlm.types"
    assert ledgerlm.RateLimitError is ledgerlm.errors.RateLimitError


def test_unknown_attribute_raises() -> None:
    try:
        ledgerlm.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_lazy_and_has_no_side_effects() -> None:
    code = (
        "import os, sys, threading; before = dict(os.environ); import ledgerlm; "
        "mods = ('aiohttp', 'pydantic', 'ledgerlm.sdk', 'ledgerlm.engine'); "
        "heavy = [m for m in mods if m in sys.modules]; "
        "print(heavy, dict(os.environ) == before, threading.active_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[] True 1"
