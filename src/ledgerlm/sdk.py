"""The SDK calls: ``completion`` / ``acompletion`` and ``embedding`` / ``aembedding``.

::

    resp = ledgerlm.completion("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}])
    resp.choices[0].message.content, resp.usage.prompt_tokens       # OpenAI form
    resp.ledger.usage.input_tokens, resp.ledger.response_cost       # canonical usage, Decimal USD

Sync calls run the async ones on ledgerlm's background event-loop thread (``ledgerlm.transport``).
``**openai_params`` are sent as they are (``temperature``, ``tools``, ``stream_options``,
``extra_headers`` ...). Errors are ``ledgerlm.errors`` classes, raised before any network call for bad
input (unknown provider, empty messages, invalid ``api_base``, missing API key).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerlm import engine
from ledgerlm.engine import CallOptions
from ledgerlm.errors import BadRequestError, ConfigError
from ledgerlm.pricing.compiled import compile_price
from ledgerlm.pricing.custom import validate_custom_prices
from ledgerlm.providers.base import Deployment
from ledgerlm.responses import CustomStreamWrapper, EmbeddingResponse, Ledger, ModelResponse
from ledgerlm.router import resolve_deployment
from ledgerlm.transport import run_sync
from ledgerlm.types import CallContext

__all__ = ["acompletion", "aembedding", "completion", "embedding"]

DEFAULT_NUM_RETRIES = 2

# LiteLLM's per-call provider settings: given to the deployment (``Deployment.extra``), never sent in
# the request body. Read by the Vertex AI (``providers/gemini/``) and Bedrock providers.
PROVIDER_SETTINGS = frozenset(
    {
        "vertex_project",
        "vertex_location",
        "vertex_credentials",
        "vertex_token",
        "aws_region_name",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_profile_name",
        "aws_bearer_token",
    }
)


def _with_settings(deployment: Deployment, params: dict[str, Any]) -> Deployment:
    """``deployment`` with the provider settings found in ``params`` (removed from it) in ``extra``,
    and priced by LiteLLM's per-call custom prices in ``params`` (``input_cost_per_token``,
    ``output_cost_per_token``, ... USD per token; removed, never sent); the same object when there are
    none. A negative or non-numeric price: ``BadRequestError`` naming it."""
    settings = {name: params.pop(name) for name in PROVIDER_SETTINGS & params.keys()}
    if settings:
        deployment = dataclasses.replace(deployment, extra={**deployment.extra, **settings})
    try:
        prices = validate_custom_prices(params)
        per_second = _per_second_price(deployment, params)
    except ConfigError as exc:
        raise BadRequestError(exc.message, param=exc.path) from None
    if not prices:
        return deployment if per_second is None else dataclasses.replace(deployment, price=per_second)
    for name in prices:
        params.pop(name)
    price = compile_price(deployment.provider, deployment.model, custom=prices)
    return dataclasses.replace(deployment, price=price)


def _per_second_price(deployment: Deployment, params: dict[str, Any]) -> Any:
    """LiteLLM's per-call ``cost_per_second`` / ``input_cost_per_second`` / ``output_cost_per_second``
    (USD per second of call, ``ledgerlm.pricing.per_second``), removed from ``params`` (never sent): a
    ``PerSecondPrice``, or ``None`` when none is given or per-token prices are given too (LiteLLM
    ignores the rate then). ``ConfigError`` for a bad value."""
    from ledgerlm.pricing.per_second import PER_SECOND_KEYS, PerSecondPrice, per_second_rate

    if not any(params.get(key) is not None for key in PER_SECOND_KEYS):
        return None
    rate = per_second_rate(params, {}, "completion")
    for key in PER_SECOND_KEYS:
        params.pop(key, None)
    return (
        None if rate is None else PerSecondPrice(rate, provider=deployment.provider, model=deployment.model)
    )


def _context(metadata: Mapping[str, Any] | None, no_log: bool, params: Mapping[str, Any]) -> CallContext:
    """The call's context: a fresh request id, ``metadata`` (its ``tags`` list -> request tags) and
    the end user from OpenAI's ``user`` parameter."""
    meta = dict(metadata or {})
    tags = meta.get("tags")
    request_tags = [str(t) for t in tags] if isinstance(tags, list | tuple) else []
    user = params.get("user")
    return CallContext(
        request_id=str(uuid.uuid4()),
        metadata=meta,
        request_tags=request_tags,
        no_log=no_log,
        end_user=user if isinstance(user, str) else None,
    )


def _check_messages(messages: Any) -> list[Any]:
    if not isinstance(messages, list) or not messages:
        raise BadRequestError(
            "messages must be a non-empty list like [{'role': 'user', 'content': 'Hello'}]", param="messages"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise BadRequestError(
                f"messages[{i}] must be an object with a 'role' (and usually 'content')", param="messages"
            )
    return messages


def _check_input(value: Any) -> Any:
    empty = value is None or (isinstance(value, str | list) and len(value) == 0)
    if empty or not isinstance(value, str | list):
        raise BadRequestError("input must be a non-empty string or list of strings/tokens", param="input")
    return value


@dataclass(frozen=True, slots=True)
class _CompletionCall:
    """One SDK completion call as a value: the arguments of ``completion`` / ``acompletion``
    (``sync``: called through ``completion``; ``params``: the other OpenAI parameters)."""

    model: str
    messages: Any
    stream: bool
    sync: bool
    api_key: str | None
    api_base: str | None
    api_version: str | None
    timeout: float | None
    num_retries: int
    metadata: Mapping[str, Any] | None
    callbacks: list[Any] | None
    no_log: bool
    params: dict[str, Any]


async def _acompletion(call: _CompletionCall) -> ModelResponse | CustomStreamWrapper:
    deployment = resolve_deployment(
        call.model, api_key=call.api_key, api_base=call.api_base, api_version=call.api_version
    )
    params = dict(call.params)
    deployment = _with_settings(deployment, params)
    body = {"messages": _check_messages(call.messages), **params}
    context = _context(call.metadata, call.no_log, params)
    options = CallOptions(
        context,
        call_type="completion" if call.sync else "acompletion",
        num_retries=call.num_retries,
        timeout=call.timeout,
        callbacks=tuple(call.callbacks or ()),
    )
    if call.stream:
        chat_stream = await engine.chat_stream(deployment, body, options)
        return CustomStreamWrapper(chat_stream, request_id=context.request_id, sync=call.sync)
    result = await engine.chat(deployment, body, options)
    ledger = Ledger(usage=result.usage, cost=result.cost, request_id=context.request_id, record=result.record)
    return ModelResponse(result.body, ledger)


async def acompletion(
    model: str,
    messages: list[dict[str, Any]],
    *,
    stream: bool = False,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    timeout: float | None = None,
    num_retries: int = DEFAULT_NUM_RETRIES,
    metadata: dict[str, Any] | None = None,
    callbacks: list[Any] | None = None,
    no_log: bool = False,
    **openai_params: Any,
) -> Any:
    """Chat completion on ``model`` (``provider/model``); returns a ``ModelResponse``, or with
    ``stream=True`` a ``CustomStreamWrapper`` to iterate with ``async for``.

    ``timeout``: seconds for the whole call (streams: to the first byte and between chunks).
    ``num_retries``: retries on 429/5xx/connection errors (0 disables). ``metadata``: free-form, its
    ``tags`` list becomes the call's request tags. ``callbacks``: per-call ``CustomLogger`` objects.
    ``no_log``: do not log this call's content.
    """
    return await _acompletion(
        _CompletionCall(
            model,
            messages,
            stream,
            False,
            api_key,
            api_base,
            api_version,
            timeout,
            num_retries,
            metadata,
            callbacks,
            no_log,
            openai_params,
        )
    )


def completion(
    model: str,
    messages: list[dict[str, Any]],
    *,
    stream: bool = False,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    timeout: float | None = None,
    num_retries: int = DEFAULT_NUM_RETRIES,
    metadata: dict[str, Any] | None = None,
    callbacks: list[Any] | None = None,
    no_log: bool = False,
    **openai_params: Any,
) -> Any:
    """Sync ``acompletion``: a ``ModelResponse``, or with ``stream=True`` a ``CustomStreamWrapper``
    to iterate with ``for``. Same arguments and errors as ``acompletion``."""
    return run_sync(
        _acompletion(
            _CompletionCall(
                model,
                messages,
                stream,
                True,
                api_key,
                api_base,
                api_version,
                timeout,
                num_retries,
                metadata,
                callbacks,
                no_log,
                openai_params,
            )
        )
    )


async def _aembedding(
    model: str, input: Any, *, sync: bool, options: dict[str, Any], params: dict[str, Any]
) -> EmbeddingResponse:
    deployment = resolve_deployment(
        model, api_key=options["api_key"], api_base=options["api_base"], api_version=options["api_version"]
    )
    deployment = _with_settings(deployment, params)
    body = {"input": _check_input(input), **params}
    context = _context(options["metadata"], options["no_log"], params)
    call_options = CallOptions(
        context,
        call_type="embedding" if sync else "aembedding",
        num_retries=options["num_retries"],
        timeout=options["timeout"],
        callbacks=tuple(options["callbacks"] or ()),
    )
    result = await engine.embed(deployment, body, call_options)
    ledger = Ledger(usage=result.usage, cost=result.cost, request_id=context.request_id, record=result.record)
    return EmbeddingResponse(result.body, ledger)


async def aembedding(
    model: str,
    input: str | list[Any],
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    timeout: float | None = None,
    num_retries: int = DEFAULT_NUM_RETRIES,
    metadata: dict[str, Any] | None = None,
    callbacks: list[Any] | None = None,
    no_log: bool = False,
    **params: Any,
) -> EmbeddingResponse:
    """Embeddings of ``input`` (a string or list) with ``model``; returns an ``EmbeddingResponse``
    (OpenAI ``list`` of ``embedding`` objects, ``.ledger``). Arguments as in ``acompletion``."""
    options = {
        "api_key": api_key,
        "api_base": api_base,
        "api_version": api_version,
        "timeout": timeout,
        "num_retries": num_retries,
        "metadata": metadata,
        "callbacks": callbacks,
        "no_log": no_log,
    }
    return await _aembedding(model, input, sync=False, options=options, params=params)


def embedding(
    model: str,
    input: str | list[Any],
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    timeout: float | None = None,
    num_retries: int = DEFAULT_NUM_RETRIES,
    metadata: dict[str, Any] | None = None,
    callbacks: list[Any] | None = None,
    no_log: bool = False,
    **params: Any,
) -> EmbeddingResponse:
    """Sync ``aembedding``."""
    options = {
        "api_key": api_key,
        "api_base": api_base,
        "api_version": api_version,
        "timeout": timeout,
        "num_retries": num_retries,
        "metadata": metadata,
        "callbacks": callbacks,
        "no_log": no_log,
    }
    return run_sync(_aembedding(model, input, sync=True, options=options, params=params))
