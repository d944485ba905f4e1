"""Deployment copies for the endpoints that call a non-chat OpenAI endpoint through the engine (images,
audio, moderations, rerank, completions): which providers speak it, the per-call copy carrying the
endpoint flag and the unit price, and the 400 naming the alternative."""

from __future__ import annotations

import dataclasses
from typing import Any

from ledgerlm.errors import BadRequestError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai import OpenAICompatibleProvider
from ledgerlm.providers.openai.endpoints import ENDPOINT_FLAG

__all__ = ["flagged", "openai_compatible", "unsupported"]


def openai_compatible(deployment: Deployment) -> bool:
    """True when the deployment's provider speaks the OpenAI wire format (Azure included)."""
    return isinstance(get_provider(deployment.provider), OpenAICompatibleProvider)


def flagged(deployment: Deployment, endpoint_name: str, price: Any, **extra: Any) -> Deployment:
    """A per-call copy of ``deployment`` calling OpenAI endpoint ``endpoint_name`` (``ENDPOINT_FLAG``)
    with ``price`` and ``extra`` settings."""
    settings = {**deployment.extra, ENDPOINT_FLAG: endpoint_name, **extra}
    return dataclasses.replace(deployment, extra=settings, price=price)


def unsupported(deployment: Deployment, what: str, alternative: str) -> BadRequestError:
    """400 ``unsupported_call`` naming the deployment's provider and the alternative."""
    return BadRequestError(
        f"{what} is not available for provider {deployment.provider!r} (model group "
        f"{deployment.model_group!r}); use {alternative}",
        code="unsupported_call",
    )
