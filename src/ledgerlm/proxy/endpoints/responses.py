"""``POST /v1/responses`` (and ``/responses``): OpenAI's Responses API (Agents SDK, Codex), as a lifecycle
``Endpoint``.

Format: OpenAI's API reference ("Responses", "Streaming events"). Routed like chat (model group ->
deployment, tags from ``metadata.tags`` and every other source, hooks, admission, one spend row of call
type ``aresponses``):

* OpenAI and Azure deployments: the body is passed through to ``{base}/responses``
  (``RESPONSES_FLAG``), the answer and its events are returned unchanged; usage as OpenAI reports it
  (cached input, reasoning), built-in tool calls (``web_search_call``, ``file_search_call`` output
  items) billed per call (``ledgerlm.pricing.tool_fees``); the response id is remembered so
  ``GET``/``DELETE /v1/responses/{id}`` and ``/input_items`` reach the same deployment
  (``ledgerlm.proxy.endpoints.stored_responses``). A streamed answer's terminal event is held back
  until the spend row is written;
* any other deployment: translated to chat completions and back
  (``providers.openai.responses_from_chat``), streamed as Responses events.

``metadata`` and ``tags`` are consumed by the proxy (never forwarded). Errors use the OpenAI error shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.tool_fees import ToolFeePrice
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai.responses import RESPONSES_FLAG, TERMINAL_EVENTS
from ledgerlm.providers.openai.responses_from_chat import ResponsesEventEncoder, chat_request, response_object
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints import stored_responses
from ledgerlm.proxy.endpoints.field_types import RESPONSES_FIELDS, check_fields
from ledgerlm.proxy.endpoints.responses_checks import check_translated_request
from ledgerlm.proxy.http import dumps, error_body, error_response
from ledgerlm.proxy.lifecycle import Endpoint, StreamEncoder, Upstream, inference_route

__all__ = ["NATIVE_PROVIDERS", "RESPONSES", "native_deployment", "responses", "routes"]

NATIVE_PROVIDERS = frozenset({"openai", "azure"})
"""Providers whose own Responses API is called (LiteLLM passes these through too)."""


def native_deployment(deployment: Deployment) -> Deployment | None:
    """A copy of ``deployment`` that speaks the Responses API, priced with tool fees; ``None`` for a
    chat-only provider."""
    if deployment.provider not in NATIVE_PROVIDERS:
        return None
    price = ToolFeePrice(engine.compiled_price(deployment))
    return dataclasses.replace(deployment, extra={**deployment.extra, RESPONSES_FLAG: True}, price=price)


def _parse(call: ProxyCall, body: dict[str, Any]) -> None:
    given = body.get("input")
    if not isinstance(given, (str, list)) or not given:
        raise BadRequestError("'input' must be a non-empty string or list", param="input")
    check_fields(body, RESPONSES_FIELDS)
    if call.deployment is not None and call.deployment.provider not in NATIVE_PROVIDERS:
        check_translated_request(body)


def _prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    deployment = call.deployment
    assert deployment is not None
    native = native_deployment(deployment)
    if native is not None:
        return Upstream(native, admitted, native=True)
    try:
        return Upstream(deployment, chat_request(admitted))
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise BadRequestError(
            f"this Responses request cannot be sent to a chat-completions model: {exc}", param="input"
        ) from None


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    if upstream.native:
        stored_responses.store_of(call.request).remember(
            result.body.get("id"), upstream.deployment, call.key.token
        )
        body: dict[str, Any] = result.body
        return body
    result.raw = None  # the upstream bytes are a chat completion: never forwarded
    return response_object(result.body, result.usage, call.model, call.body)


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + dumps(event) + b"\n\n"


def _error_event(exc: BaseException) -> dict[str, Any]:
    """OpenAI's ``error`` stream event (``type``, ``code``, ``message``, ``param``), with the same
    fields under ``error`` too so the official SDKs raise it as they do on chat streams."""
    fields = error_body(exc)["error"]
    return {"type": "error", **fields, "error": fields}


class _NativeEncoder:
    """The provider's events relayed unchanged, each one event late, so the terminal event (with the
    usage) goes out after the spend row; the response id is remembered for the stored-response routes."""

    def __init__(self, call: ProxyCall, upstream: Upstream) -> None:
        self._call, self._deployment = call, upstream.deployment
        self._held: dict[str, Any] | None = None
        self._text: list[str] = []

    def feed(self, item: dict[str, Any]) -> Iterable[bytes]:
        if item.get("type") == "response.output_text.delta":
            self._text.append(str(item.get("delta") or ""))
        if item.get("type") in TERMINAL_EVENTS and isinstance(item.get("response"), dict):
            store = stored_responses.store_of(self._call.request)
            store.remember(item["response"].get("id"), self._deployment, self._call.key.token)
        held, self._held = self._held, item
        return () if held is None else (_sse(held),)

    def finish(self, stream: Any) -> Iterable[bytes]:
        return () if self._held is None else (_sse(self._held),)

    def error(self, exc: BaseException) -> Iterable[bytes]:
        held = () if self._held is None else (_sse(self._held),)
        return (*held, _sse(_error_event(exc)))

    def reply(self) -> Any:
        return {"output_text": "".join(self._text)}


class _BridgedEncoder:
    """Chat chunks encoded as Responses events (``ResponsesEventEncoder``)."""

    def __init__(self, call: ProxyCall, upstream: Upstream) -> None:
        self._encoder = ResponsesEventEncoder(call.model, call.body)
        self._text: list[str] = []

    def feed(self, item: dict[str, Any]) -> Iterable[bytes]:
        events = self._encoder.feed(item)
        self._text.extend(str(e.get("delta")) for e in events if e["type"] == "response.output_text.delta")
        return [_sse(e) for e in events]

    def finish(self, stream: Any) -> Iterable[bytes]:
        return [_sse(e) for e in self._encoder.finish(stream.usage)]

    def error(self, exc: BaseException) -> Iterable[bytes]:
        return (_sse(_error_event(exc)),)

    def reply(self) -> Any:
        return {"output_text": "".join(self._text)}


def _stream_encoder(call: ProxyCall, upstream: Upstream) -> StreamEncoder:
    return _NativeEncoder(call, upstream) if upstream.native else _BridgedEncoder(call, upstream)


RESPONSES = Endpoint(
    call_type="aresponses",
    need="input",
    call=engine.chat,
    open_stream=engine.chat_stream,
    encode=_encode,
    stream_encoder=_stream_encoder,
    error=error_response,
    parse=_parse,
    prepare=_prepare,
    forward_raw=True,
    chunk_hooks=False,
    name="responses",
)

responses = inference_route(RESPONSES)


def routes() -> list[Route]:
    """``POST /v1/responses`` and ``/responses`` plus the stored-response routes."""
    return [
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/responses", responses, methods=["POST"]),
        *stored_responses.routes(),
    ]
