"""The shared call path of the SDK and the proxy: provider -> send -> parse -> usage -> cost -> record.

Public API (async; the proxy calls these directly, the SDK wraps them)::

    options = CallOptions(ctx, call_type="acompletion", num_retries=2, timeout=None, runtime=None)
    result = await chat(deployment, body, options)            # ChatResult
    stream = await chat_stream(deployment, body, options)     # ChatStream (async iterator of chunks)
    result = await embed(deployment, body, options)           # EmbeddingResult

``body`` is an OpenAI request body (``messages`` + params, or ``input`` + params); the upstream model
comes from ``deployment.model``. The provider is called through the runtime's transport
(``options.runtime``, default ``ledgerlm.runtime.default_runtime()``). Every call produces exactly one
terminal event on its ``CallLog`` (``ledgerlm.callbacks``): ``success(record, response)`` or
``failure(record, exc)``, also when the consumer of a stream stops early, the stream breaks or
stalls, or the calling task is cancelled.
Errors are raised as ``ledgerlm.errors.APIError`` subclasses after the failure event.

Inside, the call is a value: ``CallOptions`` (frozen) + one ``Call`` per call (``engine.call``), one
record builder (``engine.record``), the cost step (``engine.cost``) and the stream (``engine.stream``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import orjson

from ledgerlm.callbacks import CallLog, CallStart, start_call
from ledgerlm.engine.call import Call, CallOptions, CallResult, Sink
from ledgerlm.engine.cost import call_cost, compiled_price, with_duration
from ledgerlm.engine.record import build_record, estimate_prompt_tokens
from ledgerlm.engine.stream import ChatStream, ClientDisconnectedError
from ledgerlm.errors import APIError, APIResponseValidationError, BadRequestError
from ledgerlm.providers import Provider, get_provider
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.providers.openai.endpoints import BINARY_RESPONSE
from ledgerlm.transport import RETRIES_ATTR, SendOptions, SendResult, send_with
from ledgerlm.usage.tier import with_requested_tier

__all__ = [
    "Call",
    "CallOptions",
    "CallResult",
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

ChatResult = CallResult  # a finished chat call (``body``: OpenAI ``chat.completion``)
EmbeddingResult = CallResult  # a finished embeddings call (``body``: OpenAI ``list`` of ``embedding``)


def _open_log(call: Call) -> CallLog:
    deployment, body, options = call.deployment, call.body, call.options
    assert deployment is not None
    start = CallStart(
        call_type=options.call_type,
        model=deployment.model_group or f"{deployment.provider}/{deployment.model}",
        messages=body.get("messages", body.get("input")),
        params=body if isinstance(body, dict) else dict(body),
        context=options.context,
        stream=call.stream,
        is_async=options.call_type.startswith("a"),
        per_call_callbacks=list(options.callbacks),
    )
    runtime = options.in_runtime()
    log = start_call(start, runtime.callback_lists(), runtime.workers)
    for sink in options.sinks:
        log.add_sink(sink)
    return log


def _fail(log: CallLog, call: Call, exc: BaseException) -> None:
    """The failure event of a call that raised ``exc`` before producing a response (no usage)."""
    if isinstance(exc, APIError):
        error = exc
    elif isinstance(exc, asyncio.CancelledError):
        error = ClientDisconnectedError("the call was cancelled")
    else:
        error = APIError(f"unexpected error in ledgerlm: {exc!r}")
    assert call.deployment is not None
    call.cost = call_cost(call.deployment, call.usage, call.start)
    call.retries = getattr(exc, RETRIES_ATTR, 0)
    if call.default_api_base is None:
        with contextlib.suppress(APIError):  # an unknown provider: no default URL to record
            call.default_api_base = get_provider(call.deployment.provider).default_api_base
    log.failure(build_record(call, error=error), error)


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


async def _send(provider: Provider, call: Call, request: HTTPRequest) -> SendResult:
    """``send_with`` on the runtime's transport, with the provider's error mapping and the deployment's
    default timeout."""
    deployment = call.deployment
    assert deployment is not None
    timeout = call.options.timeout
    options = SendOptions(
        map_error=lambda s, b, h: provider.error_from_response(deployment, s, b, h),
        provider=provider.name,
        model=deployment.model,
        timeout=timeout if timeout is not None else deployment.timeout,
        num_retries=call.options.num_retries,
        stream=call.stream,
    )
    return await send_with(call.options.in_runtime().transport, request, options)


async def _plain_call(call: Call, *, embedding: bool) -> CallResult:
    """One non-streamed call through the whole pipeline."""
    deployment = call.deployment
    assert deployment is not None
    log = _open_log(call)
    try:
        provider = get_provider(deployment.provider)
        call.default_api_base = provider.default_api_base
        request = _build_request(provider, deployment, call.body, embedding=embedding, stream=False)
        log.pre_api_call()
        sent = await _send(provider, call, request)
        raw = sent.body or b""
        binary = deployment.extra.get(BINARY_RESPONSE)  # a non-JSON answer (speech audio)
        parsed = dict(binary) if binary is not None else _parse_json(provider, deployment, raw)
        parse = provider.parse_embedding_response if embedding else provider.parse_chat_response
        out = parse(deployment, parsed)
        call.usage = with_requested_tier(provider.usage_from_body(parsed), call.body)  # issue 18 item 6
    except BaseException as exc:
        _fail(log, call, exc)
        raise
    call.usage = with_duration(deployment, call.usage, call.start)  # per-second prices
    call.cost = cost = call_cost(deployment, call.usage, call.start)
    call.retries = sent.retries
    call.finish_reasons = [c["finish_reason"] for c in out.get("choices", ()) if c.get("finish_reason")]
    record = build_record(call, response=out)
    log.success(record, out)
    return CallResult(out, call.usage, cost, record, raw if provider.returns_openai_format else None)


async def chat(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> CallResult:
    """A non-streamed chat completion. ``options.timeout``: seconds for the whole call (default: the
    deployment's, else ``transport.DEFAULT_TIMEOUT_S``). Raises ``APIError`` subclasses."""
    return await _plain_call(Call(options, deployment, body), embedding=False)


async def embed(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> CallResult:
    """An embeddings call (``body``: ``input`` + params). Raises ``APIError`` subclasses."""
    return await _plain_call(Call(options, deployment, body), embedding=True)


def _caller_wants_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return bool(isinstance(options, Mapping) and options.get("include_usage"))


async def chat_stream(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> ChatStream:
    """A streamed chat completion, returned once the provider answered 200 (errors before that are
    raised here, after retries). ``options.timeout``: seconds to the first byte and between chunks.

    Iterate the ``ChatStream`` for OpenAI chunk dicts; ``.usage`` / ``.cost`` / ``.record`` are set
    when it ends. The usage chunk ledgerlm requested on the caller's behalf is not yielded unless the
    body asked for it (``stream_options.include_usage``).
    """
    call = Call(options, deployment, body, stream=True)
    log = _open_log(call)
    try:
        provider = get_provider(deployment.provider)
        call.default_api_base = provider.default_api_base
        request = _build_request(provider, deployment, body, embedding=False, stream=True)
        decoder = provider.stream_decoder(deployment, caller_wants_usage=_caller_wants_usage(body))
        log.pre_api_call()
        sent = await _send(provider, call, request)
    except BaseException as exc:
        _fail(log, call, exc)
        raise
    assert sent.response is not None
    call.retries = sent.retries
    return ChatStream(sent.response, decoder, log, call, estimate_input=lambda: estimate_prompt_tokens(body))
