"""ledgerlm: an LLM gateway and logger with one OpenAI-format API and a spend ledger correct to the cent.

The public SDK surface is listed in ``__all__`` (a test checks it). Nothing runs at import time: the
names are imported from their modules on first attribute access (PEP 562), so ``import ledgerlm`` stays
cheap (no aiohttp, no pydantic models, no network).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "completion": "ledgerlm.sdk",
    "acompletion": "ledgerlm.sdk",
    "embedding": "ledgerlm.sdk",
    "aembedding": "ledgerlm.sdk",
    "ModelResponse": "ledgerlm.responses",
    "ModelResponseStream": "ledgerlm.responses",
    "EmbeddingResponse": "ledgerlm.responses",
    "CustomStreamWrapper": "ledgerlm.responses",
    "Ledger": "ledgerlm.responses",
    "Usage": "ledgerlm.types",
    "Cost": "ledgerlm.types",
    "CallContext": "ledgerlm.types",
    "CallRecord": "ledgerlm.record",
    "Deployment": "ledgerlm.providers.base",
    "Simulator": "ledgerlm.simulator",
}

__all__ = [
    "CallContext",
    "CallRecord",
    "Cost",
    "CustomStreamWrapper",
    "Deployment",
    "EmbeddingResponse",
    "Ledger",
    "ModelResponse",
    "ModelResponseStream",
    "Simulator",
    "Usage",
    "__version__",
    "acompletion",
    "aembedding",
    "completion",
    "embedding",
]

if TYPE_CHECKING:
    from ledgerlm.providers.base import Deployment
    from ledgerlm.record import CallRecord
    from ledgerlm.responses import (
        CustomStreamWrapper,
        EmbeddingResponse,
        Ledger,
        ModelResponse,
        ModelResponseStream,
    )
    from ledgerlm.sdk import acompletion, aembedding, completion, embedding
    from ledgerlm.simulator import Simulator
    from ledgerlm.types import CallContext, Cost, Usage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ledgerlm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
