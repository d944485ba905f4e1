"""ledgerlm: an LLM gateway and logger with one OpenAI-format API and a spend ledger correct to the cent.

The public SDK surface is listed in ``__all__`` (a test checks it). Nothing runs at import time: the
names are imported from their modules on first attribute access (PEP 562), so ``import ledgerlm`` stays
cheap (no aiohttp, no pydantic models, no network).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ledgerlm.version import __version__

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
    "Router": "ledgerlm.routing.sdk_router",
    "completion_cost": "ledgerlm.pricing",
    "cost_per_token": "ledgerlm.pricing.litellm_helpers",
    "get_model_info": "ledgerlm.pricing.litellm_helpers",
    "token_counter": "ledgerlm.pricing.litellm_helpers",
    "register_model": "ledgerlm.pricing.model_registry",
    # callbacks (issue 4): the SAME list objects as ledgerlm.callbacks.registry, so appends are seen
    "CustomLogger": "ledgerlm.callbacks.custom_logger",
    "success_callback": "ledgerlm.callbacks.registry",
    "failure_callback": "ledgerlm.callbacks.registry",
    "input_callback": "ledgerlm.callbacks.registry",
    "flush": "ledgerlm.callbacks",
    "aflush": "ledgerlm.callbacks",
    # the exception tree (ledgerlm.errors), as litellm.RateLimitError etc.
    "APIConnectionError": "ledgerlm.errors",
    "APIError": "ledgerlm.errors",
    "APIResponseValidationError": "ledgerlm.errors",
    "APITimeoutError": "ledgerlm.errors",
    "AuthenticationError": "ledgerlm.errors",
    "BadRequestError": "ledgerlm.errors",
    "BudgetExceededError": "ledgerlm.errors",
    "ConfigError": "ledgerlm.errors",
    "ContextWindowExceededError": "ledgerlm.errors",
    "InternalServerError": "ledgerlm.errors",
    "LedgerLMError": "ledgerlm.errors",
    "MissingAPIKeyError": "ledgerlm.errors",
    "NotFoundError": "ledgerlm.errors",
    "PermissionDeniedError": "ledgerlm.errors",
    "RateLimitError": "ledgerlm.errors",
    "RequestTooLargeError": "ledgerlm.errors",
    "ServiceUnavailableError": "ledgerlm.errors",
    "UnprocessableEntityError": "ledgerlm.errors",
    "UnsupportedProviderError": "ledgerlm.errors",
}

turn_off_message_logging = False
"""LiteLLM's switch: when True, no callback payload or export carries messages or responses."""

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CallContext",
    "CallRecord",
    "ConfigError",
    "ContextWindowExceededError",
    "Cost",
    "CustomLogger",
    "CustomStreamWrapper",
    "Deployment",
    "EmbeddingResponse",
    "InternalServerError",
    "Ledger",
    "LedgerLMError",
    "MissingAPIKeyError",
    "ModelResponse",
    "ModelResponseStream",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "Router",
    "ServiceUnavailableError",
    "Simulator",
    "UnprocessableEntityError",
    "UnsupportedProviderError",
    "Usage",
    "__version__",
    "acompletion",
    "aembedding",
    "aflush",
    "callbacks",
    "completion",
    "completion_cost",
    "cost_per_token",
    "embedding",
    "failure_callback",
    "flush",
    "get_model_info",
    "input_callback",
    "register_model",
    "success_callback",
    "token_counter",
    "turn_off_message_logging",
]

if TYPE_CHECKING:
    from ledgerlm import callbacks
    from ledgerlm.callbacks import aflush, flush
    from ledgerlm.callbacks.custom_logger import CustomLogger
    from ledgerlm.callbacks.registry import failure_callback, input_callback, success_callback
    from ledgerlm.errors import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BudgetExceededError,
        ConfigError,
        ContextWindowExceededError,
        InternalServerError,
        LedgerLMError,
        MissingAPIKeyError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RequestTooLargeError,
        ServiceUnavailableError,
        UnprocessableEntityError,
        UnsupportedProviderError,
    )
    from ledgerlm.pricing import completion_cost
    from ledgerlm.pricing.litellm_helpers import cost_per_token, get_model_info, token_counter
    from ledgerlm.pricing.model_registry import register_model
    from ledgerlm.providers.base import Deployment
    from ledgerlm.record import CallRecord
    from ledgerlm.responses import (
        CustomStreamWrapper,
        EmbeddingResponse,
        Ledger,
        ModelResponse,
        ModelResponseStream,
    )
    from ledgerlm.routing.sdk_router import Router
    from ledgerlm.sdk import acompletion, aembedding, completion, embedding
    from ledgerlm.simulator import Simulator
    from ledgerlm.types import CallContext, Cost, Usage


def __getattr__(name: str) -> Any:
    if name == "callbacks":  # the ledgerlm.callbacks package doubles as LiteLLM's ``callbacks`` list
        return importlib.import_module("ledgerlm.callbacks")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ledgerlm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
