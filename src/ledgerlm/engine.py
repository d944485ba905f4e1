"""The shared call path of the SDK and the proxy: provider -> send -> parse -> usage -> cost -> record.

Public API (async; the proxy calls these directly, the SDK wraps them)::

    result = await chat(deployment, body, context=ctx)            # ChatResult
    stream = await chat_stream(deployment, body, context=ctx)     # ChatStream (async iterator of chunks)
    result = await embed(deployment, body, context=ctx)           # EmbeddingResult

``body`` is an OpenAI request body (``messages`` + params, or ``input`` + params); the upstream model
comes from ``deployment.model``. Every call produces exactly one terminal event on its ``CallLog``
(``ledgerlm.callbacks``): ``success(record, response)`` or ``failure(record, exc)``, also when the
consumer of a stream stops early, the stream breaks or stalls, or the calling task is cancelled.
Errors are raised as ``ledgerlm.errors.APIError`` subclasses after the failure event.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ledgerlm.callbacks import CallLog, start_call
from ledgerlm.engine_record import build_record, estimate_prompt_tokens
from ledgerlm.engine_stream import ChatStream, ClientDisconnectedError
from ledgerlm.errors import APIError, APIResponseValidationError, BadRequestError, LedgerLMError
from ledgerlm.providers import Provider, get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.record import CallRecord
from ledgerlm.transport import RETRIES_ATTR, SendResult, send
from ledgerlm.types import CallContext, Cost, Usage

__all__ = [
    "ChatResult",
    "ChatStream",
    "ClientDisconnectedError",
    "EmbeddingResult",
    "Sink",
    "chat",
    "chat_stream",
    "compiled_price",
    "embed",
]

Sink = Callable[[CallRecord], None]


@dataclass(slots=True)
class ChatResult:
    """A finished chat call: ``body`` (OpenAI ``chat.completion`` dict), canonical ``usage`` (tokens),
    ``cost`` (USD), the ``record`` logged, and ``raw`` (the upstream bytes when the provider speaks the
    OpenAI format, so a proxy can forward them untouched; else ``None``)."""

    body: dict[str, Any]
    usage: Usage
    cost: Cost
    record: CallRecord
    raw: bytes | None = None


@dataclass(slots=True)
class EmbeddingResult:
    """A finished embeddings call: ``body`` (OpenAI ``list`` of ``embedding``), ``usage``, ``cost``,
    ``record``, ``raw`` (as in ``ChatResult``)."""

    body: dict[str, Any]
    usage: Usage
    cost: Cost
    record: CallRecord
    raw: bytes | None = None


class _UnpricedPrice:
    """Fallback when the price catalog cannot compile a price: every cost is unpriced with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def cost(self, usage: Usage, *, at: datetime | None = None) -> Cost:
        return Cost.unpriced(self.reason)


def compiled_price(deployment: Deployment) -> Any:
    """``deployment.price``, or the catalog's price of its provider/model (compiled once per pair with
    ``ledgerlm.pricing.compile_price``; an error compiles to "unpriced" with the reason)."""
    if deployment.price is not None:
        return deployment.price
    return _catalog_price(deployment.provider, deployment.model)


@functools.lru_cache(maxsize=1024)
def _catalog_price(provider: str, model: str) -> Any:
    from ledgerlm.pricing import compile_price  # the catalog loads on the first call, not at import

    try:
        return compile_price(provider, model)
    except LedgerLMError as exc:
        return _UnpricedPrice(f"price of {provider}/{model}: {exc}")


def _cost(deployment: Deployment, usage: Usage, start: float) -> Cost:
    """The call's cost in USD at its start time; a pricing failure is "unpriced", never a lost record."""
    try:
        cost: Cost = compiled_price(deployment).cost(usage, at=datetime.fromtimestamp(start, tz=UTC))
    except Exception as exc:
        return Cost.unpriced(f"pricing failed for {deployment.provider}/{deployment.model}: {exc!r}")
    return cost


def _open_log(
    deployment: Deployment,
    body: Mapping[str, Any],
    context: CallContext,
    call_type: str,
    stream: bool,
    callbacks: list[Any] | None,
    sinks: list[Sink] | None,
) -> CallLog:
    log = start_call(
        call_type=call_type,
        model=deployment.model_group or f"{deployment.provider}/{deployment.model}",
        messages=body.get("messages", body.get("input")),
        params=body if isinstance(body, dict) else dict(body),
        context=context,
        stream=stream,
        is_async=call_type.startswith("a"),
        per_call_callbacks=callbacks or [],
    )
    if sinks:
        for sink in sinks:
            log.add_sink(sink)
    return log


def _fail(
    log: CallLog,
    exc: BaseException,
    *,
    deployment: Deployment,
    body: Mapping[str, Any],
    context: CallContext,
    call_type: str,
    start: float,
) -> None:
    """The failure event of a call that raised ``exc`` before producing a response (no usage)."""
    if isinstance(exc, APIError):
        error = exc
    elif isinstance(exc, asyncio.CancelledError):
        error = ClientDisconnectedError("the call was cancelled")
    else:
        error = APIError(f"unexpected error in ledgerlm: {exc!r}")
    usage = Usage()
    cost = _cost(deployment, usage, start)
    try:
        default_base = get_provider(deployment.provider).default_api_base
    except APIError:
        default_base = None
    record = build_record(
        deployment=deployment,
        body=body,
        context=context,
        call_type=call_type,
        start=start,
        usage=usage,
        cost=cost,
        error=error,
        retries=getattr(exc, RETRIES_ATTR, 0),
        default_api_base=default_base,
    )
    log.failure(record, error)


def _parse_json(provider: Provider, deployment: Deployment, raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise APIResponseValidationError(
            f"{provider.name} returned a body that is not JSON: {raw[:200]!r}",
            provider=provider.name,
            model=deployment.model,
            body=raw.decode("utf-8", errors="replace")[:2000],
        ) from None


def _build_request(
    provider: Provider, deployment: Deployment, body: Mapping[str, Any], *, embedding: bool, stream: bool
) -> HTTPRequest:
    """The provider's HTTP request for ``body``. A body whose values do not fit the provider's format
    (a number where a list belongs, an unsupported call such as embeddings on Anthropic) raises
    ``BadRequestError`` (400) naming the problem, never an internal error."""
    try:
        if embedding:
            return provider.build_embedding_request(deployment, body)
        return provider.build_chat_request(deployment, body, stream=stream)
    except NotImplementedError as exc:
        raise BadRequestError(
            f"{exc}: choose a model of a provider that supports this call",
            provider=provider.name,
            model=deployment.model,
            code="unsupported_call",
        ) from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise BadRequestError(
            f"the request does not fit the {provider.name} format ({type(exc).__name__}: {exc}); "
            "check the types of messages, content, tools, stop and max_tokens",
            provider=provider.name,
            model=deployment.model,
        ) from None


async def _send(
    provider: Provider,
    deployment: Deployment,
    request: HTTPRequest,
    *,
    timeout: float | None,
    num_retries: int,
    stream: bool,
) -> SendResult:
    """``transport.send`` with the provider's error mapping and the deployment's default timeout."""
    return await send(
        request,
        map_error=lambda s, b, h: provider.error_from_response(deployment, s, b, h),
        provider=provider.name,
        model=deployment.model,
        timeout=timeout if timeout is not None else deployment.timeout,
        num_retries=num_retries,
        stream=stream,
    )


async def _plain_call(
    deployment: Deployment,
    body: Mapping[str, Any],
    *,
    context: CallContext,
    call_type: str,
    embedding: bool,
    num_retries: int,
    timeout: float | None,
    callbacks: list[Any] | None,
    sinks: list[Sink] | None,
) -> tuple[dict[str, Any], Usage, Cost, CallRecord, bytes | None]:
    """One non-streamed call through the whole pipeline; returns (body, usage, cost, record, raw)."""
    start = time.time()
    log = _open_log(deployment, body, context, call_type, False, callbacks, sinks)
    try:
        provider = get_provider(deployment.provider)
        request = _build_request(provider, deployment, body, embedding=embedding, stream=False)
        log.pre_api_call()
        sent = await _send(
            provider, deployment, request, timeout=timeout, num_retries=num_retries, stream=False
        )
        raw = sent.body or b""
        parsed = _parse_json(provider, deployment, raw)
        parse = provider.parse_embedding_response if embedding else provider.parse_chat_response
        out = parse(deployment, parsed)
        usage = provider.usage_from_body(parsed)
    except BaseException as exc:
        _fail(log, exc, deployment=deployment, body=body, context=context, call_type=call_type, start=start)
        raise
    cost = _cost(deployment, usage, start)
    record = build_record(
        deployment=deployment,
        body=body,
        context=context,
        call_type=call_type,
        start=start,
        usage=usage,
        cost=cost,
        retries=sent.retries,
        response=out,
        default_api_base=provider.default_api_base,
        finish_reasons=[c["finish_reason"] for c in out.get("choices", ()) if c.get("finish_reason")],
    )
    log.success(record, out)
    return out, usage, cost, record, (raw if provider.returns_openai_format else None)


async def chat(
    deployment: Deployment,
    body: dict[str, Any],
    *,
    context: CallContext,
    call_type: str = "acompletion",
    num_retries: int = 2,
    timeout: float | None = None,
    callbacks: list[Any] | None = None,
    sinks: list[Sink] | None = None,
) -> ChatResult:
    """A non-streamed chat completion. ``timeout``: seconds for the whole call (default: the
    deployment's, else ``transport.DEFAULT_TIMEOUT_S``). Raises ``APIError`` subclasses."""
    out, usage, cost, record, raw = await _plain_call(
        deployment,
        body,
        context=context,
        call_type=call_type,
        embedding=False,
        num_retries=num_retries,
        timeout=timeout,
        callbacks=callbacks,
        sinks=sinks,
    )
    return ChatResult(out, usage, cost, record, raw)


async def embed(
    deployment: Deployment,
    body: dict[str, Any],
    *,
    context: CallContext,
    call_type: str = "aembedding",
    num_retries: int = 2,
    timeout: float | None = None,
    callbacks: list[Any] | None = None,
    sinks: list[Sink] | None = None,
) -> EmbeddingResult:
    """An embeddings call (``body``: ``input`` + params). Raises ``APIError`` subclasses."""
    out, usage, cost, record, raw = await _plain_call(
        deployment,
        body,
        context=context,
        call_type=call_type,
        embedding=True,
        num_retries=num_retries,
        timeout=timeout,
        callbacks=callbacks,
        sinks=sinks,
    )
    return EmbeddingResult(out, usage, cost, record, raw)


def _caller_wants_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return bool(isinstance(options, Mapping) and options.get("include_usage"))


async def chat_stream(
    deployment: Deployment,
    body: dict[str, Any],
    *,
    context: CallContext,
    call_type: str = "acompletion",
    num_retries: int = 2,
    timeout: float | None = None,
    callbacks: list[Any] | None = None,
    sinks: list[Sink] | None = None,
) -> ChatStream:
    """A streamed chat completion, returned once the provider answered 200 (errors before that are
    raised here, after retries). ``timeout``: seconds to the first byte and between chunks.

    Iterate the ``ChatStream`` for OpenAI chunk dicts; ``.usage`` / ``.cost`` / ``.record`` are set
    when it ends. The usage chunk ledgerlm requested on the caller's behalf is not yielded unless the
    body asked for it (``stream_options.include_usage``).
    """
    start = time.time()
    log = _open_log(deployment, body, context, call_type, True, callbacks, sinks)
    try:
        provider = get_provider(deployment.provider)
        request = _build_request(provider, deployment, body, embedding=False, stream=True)
        decoder = provider.stream_decoder(deployment, caller_wants_usage=_caller_wants_usage(body))
        log.pre_api_call()
        sent = await _send(
            provider, deployment, request, timeout=timeout, num_retries=num_retries, stream=True
        )
    except BaseException as exc:
        _fail(log, exc, deployment=deployment, body=body, context=context, call_type=call_type, start=start)
        raise
    assert sent.response is not None
    return ChatStream(
        response=sent.response,
        decoder=decoder,
        log=log,
        finish=lambda usage: _cost(deployment, usage, start),
        record_args={
            "deployment": deployment,
            "body": body,
            "context": context,
            "call_type": call_type,
            "start": start,
            "retries": sent.retries,
            "default_api_base": provider.default_api_base,
        },
        estimate_input=lambda: estimate_prompt_tokens(body),
        timeout=timeout if timeout is not None else deployment.timeout,
    )
