"""``completion_cost``: the cost of a response object, a recorded body or a recorded stream.

Steps: read the response (``ledgerlm.usage.recorded``) -> provider and model (arguments, config
entry, or the response itself) -> canonical ``Usage`` -> compiled price (cached per deployment) ->
``Cost``. ``price_report`` returns all of these for ``ledgerlm cost``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledgerlm.pricing.catalog import catalog_provider_id, data_version
from ledgerlm.pricing.compiled import CompiledPrice, compile_price
from ledgerlm.pricing.config import DeploymentPricing, deployment_pricing, load_config
from ledgerlm.types import Cost, Usage
from ledgerlm.usage import UsageNotFoundError, usage_from_body, usage_from_stream
from ledgerlm.usage.dispatch import provider_family
from ledgerlm.usage.recorded import NotAResponseError, detect_provider, parse_recorded, recorded_model

__all__ = ["CostReport", "NotAResponseError", "completion_cost", "parse_at", "price_report"]

_compiled: dict[tuple[str, str, str | None], CompiledPrice] = {}


@dataclass(frozen=True, slots=True)
class CostReport:
    """Everything ``completion_cost`` found: ``provider``, ``model``, ``usage`` (``None`` when the
    response had none), ``cost`` and the ``price`` used (``None`` when no model was known)."""

    provider: str
    model: str | None
    usage: Usage | None
    cost: Cost
    price: CompiledPrice | None


def parse_at(at: datetime | str | None) -> datetime | None:
    """``at`` as an aware datetime (ISO-8601 text accepted, ``Z`` too; naive = UTC). Raises ``ValueError``."""
    if at is None or isinstance(at, datetime):
        return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"at must be an ISO-8601 time such as 2026-11-01T12:00:00Z, got {at!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def completion_cost(
    response: Any = None,
    *,
    provider: str | None = None,
    model: str | None = None,
    at: datetime | str | None = None,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    completion_response: Any = None,
    custom_llm_provider: str | None = None,
) -> Cost:
    """The ``Cost`` (USD) of one response.

    ``response``: an SDK response (duck-typed: ``.ledger.usage`` and ``.model``), a provider-native
    body (dict or JSON text), or a recorded stream (SSE text/bytes, JSON lines, a list of event
    dicts, AWS binary event-stream bytes). ``provider``/``model`` override what the response shows;
    with ``config`` (a dict or YAML path), ``model`` names a ``model_list`` ``model_name`` whose
    provider, custom prices and ``base_model`` apply. ``at``: the call's start time (default now).

    Unknown model or no usage -> an unpriced ``Cost`` (``total is None``) with a reason. Raises
    ``NotAResponseError`` (a ``ValueError``) when ``response`` is not a response, ``ValueError`` for
    a bad ``at``, ``ledgerlm.errors.ConfigError`` for a bad config. LiteLLM's keywords are accepted:
    ``completion_response=`` (the response) and ``custom_llm_provider=`` (the provider).
    """
    response = response if response is not None else completion_response  # LiteLLM's keyword
    if response is None:
        raise TypeError("completion_cost() needs a response (or completion_response=)")
    provider = provider or custom_llm_provider  # LiteLLM's keyword
    return price_report(response, provider=provider, model=model, at=at, config=config).cost


def price_report(
    response: Any,
    *,
    provider: str | None = None,
    model: str | None = None,
    at: datetime | str | None = None,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> CostReport:
    """Like ``completion_cost`` but returns the provider, model, usage and price too."""
    when = parse_at(at)
    deployment = deployment_pricing(load_config(config), model) if config is not None and model else None
    usage, provider, found_model = _read(response, provider)
    if deployment is not None:
        provider, model = deployment.provider, deployment.model
    model = model or found_model
    if model is not None:
        provider, model = _split_prefix(provider, model)
    provider = provider or "openai"
    if model is None:
        cost = Cost.unpriced("the response names no model: pass model=", data_version=data_version())
        return CostReport(provider, None, usage, cost, None)
    price = _price(provider, model, deployment)
    if usage is None:
        cost = Cost.unpriced("the response carries no usage", data_version=price.data_version)
    else:
        cost = price.cost(usage, at=when)
    return CostReport(provider, model, usage, cost, price)


def _read(response: Any, provider: str | None) -> tuple[Usage | None, str | None, str | None]:
    """``(usage or None, provider, model named by the response)``."""
    ledger = getattr(response, "ledger", None)
    usage = getattr(ledger, "usage", None)
    if isinstance(usage, Usage):
        record = getattr(ledger, "record", None)
        model = getattr(record, "model", None) or getattr(response, "model", None)
        if model is None and isinstance(response, Mapping):
            model = response.get("model")
        found = provider or getattr(ledger, "provider", None) or getattr(record, "provider", None)
        return usage, found if isinstance(found, str) else None, model if isinstance(model, str) else None
    recorded = parse_recorded(response)
    detected = detect_provider(recorded)
    _check_shape(provider, detected)
    provider = provider or detected
    if provider is None:
        raise NotAResponseError("cannot tell which provider this response is from: pass provider=")
    body = recorded.body
    if body is not None and "error" in body and not any(k in body for k in ("usage", "usageMetadata")):
        raise NotAResponseError("the body is an error response, not a completion")
    try:
        if body is not None:
            usage = usage_from_body(provider, body)
        else:
            usage = usage_from_stream(provider, recorded.events)
    except UsageNotFoundError:
        usage = None
    return usage, provider, recorded_model(recorded)


def _check_shape(provider: str | None, detected: str | None) -> None:
    """``NotAResponseError`` when the body's shape is another provider family's than ``provider``'s
    (mapping an OpenAI body with Anthropic's fields would read 0 tokens: a false $0). Bedrock hosts
    several formats and Vertex AI serves Claude, so those pairs are accepted."""
    if provider is None or detected is None:
        return
    given, shape = provider_family(provider), provider_family(detected)
    if given == shape or given == "bedrock" or (given == "gemini" and shape == "anthropic"):
        return
    raise NotAResponseError(
        f"the body is in {detected}'s format, not {provider}'s: pass the right provider, or none to guess"
    )


def _split_prefix(provider: str | None, model: str) -> tuple[str | None, str]:
    """``"anthropic/claude-x"`` -> ``("anthropic", "claude-x")`` when the prefix is a known provider
    and the provider is unknown or only a shape guess (``openai``); OpenRouter keeps vendor/model."""
    head, sep, tail = model.partition("/")
    if not sep or provider == "openrouter":
        return provider, model
    if provider is not None and provider_family(provider) != "openai":
        return provider, model
    if head == provider or (catalog_provider_id(head) is not None and provider in (None, "openai")):
        return head, tail
    return provider, model


def _price(provider: str, model: str, deployment: DeploymentPricing | None) -> CompiledPrice:
    """The compiled price, cached per ``(provider, model, base_model)`` unless custom-priced."""
    if deployment is not None and deployment.custom:
        return compile_price(provider, model, custom=deployment.custom)
    base_model = deployment.base_model if deployment is not None else None
    key = (provider, model, base_model)
    price = _compiled.get(key)
    if price is None:
        price = _compiled[key] = compile_price(provider, model, base_model=base_model)
    return price
