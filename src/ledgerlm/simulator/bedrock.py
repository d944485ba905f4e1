"""Bedrock Runtime format for the simulator: ``POST /model/{modelId}/{action}`` with action
``converse``, ``converse-stream``, ``invoke`` and ``invoke-with-response-stream`` (Claude models: the
Anthropic body and events, see ``ledgerlm.simulator.anthropic``).

Payloads follow the Bedrock Runtime API reference: Converse ``output.message.content``, ``stopReason``,
``usage`` (``inputTokens`` EXCLUDING ``cacheReadInputTokens`` / ``cacheWriteInputTokens``,
``totalTokens``), ``metrics``; streams are binary ``application/vnd.amazon.eventstream`` frames
(``ledgerlm.simulator._bedrock_eventstream``): ``messageStart``, ``contentBlockDelta``,
``contentBlockStop``, ``messageStop``, ``metadata``; invoke streams wrap each Anthropic event in a
``chunk`` frame, the last one with ``amazon-bedrock-invocationMetrics``. Errors: ``{"message"}`` with
``x-amzn-ErrorType``; in a stream an exception frame (``modelStreamErrorException``).

Auth: a SigV4 ``Authorization`` header (``AWS4-HMAC-SHA256 Credential=...``) or ``Bearer`` key. When the
access key id is ``SIM_ACCESS_KEY_ID`` the signature itself is verified with ``SIM_SECRET_ACCESS_KEY``
(botocore re-signs the received request at its ``X-Amz-Date``).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ledgerlm.simulator import anthropic as sim_anthropic
from ledgerlm.simulator._bedrock_eventstream import chunk_frame, event_frame, exception_frame
from ledgerlm.simulator._native_common import Tokens, prepare_native, tokens_for, write_events
from ledgerlm.simulator.count_tokens import bedrock_count
from ledgerlm.simulator.knobs import Knobs
from ledgerlm.simulator.openai import reply_text
from ledgerlm.simulator.state import SimState, split_words

__all__ = [
    "SIM_ACCESS_KEY_ID",
    "SIM_SECRET_ACCESS_KEY",
    "bedrock_error",
    "converse_body",
    "routes",
    "sigv4_signature",
]

SIM_ACCESS_KEY_ID = "AKIDLEDGERLMSIM"
SIM_SECRET_ACCESS_KEY = "ledgerlm-simulator-secret"
ERROR_TYPES: dict[int, str] = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
EVENTSTREAM = "application/vnd.amazon.eventstream"


def bedrock_error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    """A Bedrock Runtime error response."""
    kind = ERROR_TYPES.get(status, "InternalServerException" if status >= 500 else "ValidationException")
    headers = {
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": "sim-request-id",
    }
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return web.Response(
        status=status,
        body=orjson.dumps({"message": message}),
        content_type="application/json",
        headers=headers,
    )


def sigv4_signature(
    credentials: Credentials, service: str, region: str, request: AWSRequest, timestamp: str
) -> str:
    """The SigV4 signature (hex) of ``request`` at ``timestamp`` (``YYYYMMDDTHHMMSSZ``), computed with
    botocore's own steps (``SigV4Auth.add_auth`` always signs at the current time)."""
    signer = SigV4Auth(credentials, service, region)
    request.context["timestamp"] = timestamp
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _signature_ok(request: web.Request, auth: str, body: bytes) -> bool:
    """Verify a SigV4 signature made with the simulator's own test credentials."""
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    _, _, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    headers = {
        name: request.headers[name] for name in signed if name not in ("x-amz-date", "x-amz-security-token")
    }
    url = f"http://{request.host}{request.raw_path}"
    again = AWSRequest(method=request.method, url=url, data=body, headers=headers)
    token = request.headers.get("x-amz-security-token")
    credentials = Credentials(SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY, token)
    expected = sigv4_signature(credentials, service, region, again, request.headers.get("x-amz-date", ""))
    return hmac.compare_digest(expected, fields.get("Signature", ""))


def _authorizer(body: bytes) -> Any:
    def authorized(request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return bool(auth[7:].strip())
        if not auth.startswith("AWS4-HMAC-SHA256 Credential="):
            return False
        if auth.startswith(f"AWS4-HMAC-SHA256 Credential={SIM_ACCESS_KEY_ID}/"):
            return _signature_ok(request, auth, body)
        return True

    return authorized


def _texts(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    messages = [
        {"role": m.get("role"), "content": "".join(str(b.get("text", "")) for b in m.get("content") or [])}
        for m in body.get("messages") or []
    ]
    system = "".join(str(b.get("text", "")) for b in body.get("system") or [] if isinstance(b, dict))
    return messages, system


def _reply(knobs: Knobs, body: dict[str, Any]) -> tuple[str, Tokens]:
    messages, system = _texts(body)
    content = reply_text(knobs, {"messages": messages})
    return content, tokens_for(knobs, messages, system, content)


def _usage(tokens: Tokens) -> dict[str, Any]:
    return {
        "inputTokens": tokens.uncached_prompt,
        "outputTokens": tokens.completion,
        "cacheReadInputTokens": tokens.cache_read,
        "cacheWriteInputTokens": tokens.cache_write,
        "totalTokens": tokens.prompt + tokens.completion,
    }


def converse_body(knobs: Knobs, body: dict[str, Any]) -> dict[str, Any]:
    """A Converse response."""
    content, tokens = _reply(knobs, body)
    blocks: list[dict[str, Any]] = []
    if tokens.reasoning:
        blocks.append({"reasoningContent": {"reasoningText": {"text": "Thinking.", "signature": "sim"}}})
    blocks.append({"text": content})
    return {
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": "end_turn",
        "usage": _usage(tokens),
        "metrics": {"latencyMs": int(knobs.latency_ms)},
    }


def converse_stream(knobs: Knobs, body: dict[str, Any]) -> list[bytes]:
    """ConverseStream frames."""
    content, tokens = _reply(knobs, body)
    frames = [event_frame("messageStart", {"role": "assistant"})]
    for piece in split_words(content):
        frames.append(event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
    frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(event_frame("messageStop", {"stopReason": "end_turn"}))
    metadata = {"usage": _usage(tokens), "metrics": {"latencyMs": int(knobs.latency_ms)}}
    frames.append(event_frame("metadata", metadata))
    return frames


def invoke_stream(knobs: Knobs, body: dict[str, Any], model: str) -> list[bytes]:
    """InvokeModelWithResponseStream frames for a Claude model (Anthropic events in ``chunk`` frames)."""
    events = sim_anthropic.stream_event_dicts(knobs, {**body, "model": model})
    events = [e for e in events if e["type"] != "ping"]
    usage = events[0]["message"]["usage"]
    final = next(e for e in events if e["type"] == "message_delta")["usage"]
    events[-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": usage["input_tokens"],
        "outputTokenCount": final["output_tokens"],
        "cacheReadInputTokenCount": usage["cache_read_input_tokens"],
        "cacheWriteInputTokenCount": usage["cache_creation_input_tokens"],
        "invocationLatency": int(knobs.latency_ms),
        "firstByteLatency": int(knobs.latency_ms),
    }
    return [chunk_frame(e) for e in events]


STREAM_ERROR = exception_frame("modelStreamErrorException", "The model stream failed (simulated).")


async def _handle(request: web.Request, state: SimState) -> web.StreamResponse:
    model, action = unquote(request.match_info["model"]), request.match_info["action"]
    if action not in ("converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens"):
        return bedrock_error(404, f"unknown action {action!r}")
    raw = await request.read()
    prepared = await prepare_native(
        request, state, model=model, authorized=_authorizer(raw), error=bedrock_error
    )
    if isinstance(prepared, web.StreamResponse):
        return prepared
    knobs, body = prepared
    if action == "count-tokens":
        status, counted = bedrock_count(knobs, body)
        return web.Response(status=status, body=orjson.dumps(counted), content_type="application/json")
    if action == "converse":
        return web.Response(body=orjson.dumps(converse_body(knobs, body)), content_type="application/json")
    if action == "invoke":
        message = sim_anthropic.message_body(knobs, {**body, "model": model})
        return web.Response(body=orjson.dumps(message), content_type="application/json")
    frames = (
        converse_stream(knobs, body) if action == "converse-stream" else invoke_stream(knobs, body, model)
    )
    return await write_events(
        request, state, knobs, frames, content_type=EVENTSTREAM, error_event=STREAM_ERROR
    )


def routes(state: SimState) -> list[web.RouteDef]:
    """Bedrock Runtime routes bound to ``state``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _handle(request, state)

    return [web.post("/model/{model}/{action}", handle)]
