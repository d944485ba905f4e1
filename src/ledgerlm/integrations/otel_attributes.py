"""CallRecord JSON -> OpenTelemetry GenAI semantic-convention attributes (pure functions).

Names follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``, registry in
open-telemetry/semantic-conventions-genai; the Python constants in
``opentelemetry.semconv._incubating.attributes.gen_ai_attributes``). Two modes, as the conventions'
transition plan asks (``OTEL_SEMCONV_STABILITY_OPT_IN``):

* default (v1.36-compatible consumers): ``gen_ai.system`` is emitted beside ``gen_ai.provider.name``;
  content (when on) as the JSON string attributes ``gen_ai.prompt`` / ``gen_ai.completion``.
* ``gen_ai_latest_experimental``: no ``gen_ai.system``; content as ``gen_ai.input.messages`` /
  ``gen_ai.output.messages`` (JSON, the parts-based message schema); plus
  ``gen_ai.response.time_to_first_chunk`` and ``gen_ai.request.stream``.

There is no standard cost attribute yet, so cost lives under ``ledgerlm.cost.*``:
``ledgerlm.cost.total_usd`` (double, absent when unpriced, never a fake 0), ``ledgerlm.cost.total_decimal``
(exact decimal string), ``ledgerlm.cost.{category}_usd`` per breakdown category, ``ledgerlm.cost.priced``,
``ledgerlm.cost.unpriced_reason``, ``ledgerlm.cost.source``. Who/what: ``ledgerlm.request.id``,
``ledgerlm.request.tags``, ``ledgerlm.team.id``, ``ledgerlm.key.hash``, ``ledgerlm.key.alias``,
``ledgerlm.user.id``, ``ledgerlm.organization.id``, ``ledgerlm.end_user.id``, ``ledgerlm.model_group``,
``ledgerlm.requested_model`` (the name the caller used; ``gen_ai.request.model`` is the provider's model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from ledgerlm.provider_specs import PROVIDER_SPECS

__all__ = [
    "PROVIDER_NAMES",
    "latest_experimental",
    "metric_attributes",
    "operation_name",
    "provider_name",
    "request_model",
    "span_attributes",
]

PROVIDER_NAMES: dict[str, str] = {
    key: spec.otel_name or spec.name for spec in PROVIDER_SPECS for key in (spec.name, *spec.aliases)
} | {"perplexity": "perplexity", "cohere": "cohere", "ibm": "ibm.watsonx.ai"}
"""ledgerlm provider names and aliases (the provider table, ``ledgerlm.provider_specs``) -> well-known
``gen_ai.provider.name`` values (others pass through)."""

_OPERATIONS = {
    "embedding": "embeddings",
    "aembedding": "embeddings",
    "text_completion": "text_completion",
    "atext_completion": "text_completion",
}

_REQUEST_PARAMS: dict[str, str] = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}

_USAGE: dict[str, str] = {
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}

_WHO: dict[str, str] = {
    "id": "ledgerlm.request.id",
    "requested_model": "ledgerlm.requested_model",
    "model_group": "ledgerlm.model_group",
    "deployment_id": "ledgerlm.deployment.id",
    "team_id": "ledgerlm.team.id",
    "key_hash": "ledgerlm.key.hash",
    "key_alias": "ledgerlm.key.alias",
    "user_id": "ledgerlm.user.id",
    "organization_id": "ledgerlm.organization.id",
    "end_user": "ledgerlm.end_user.id",
}


def latest_experimental(opt_in: str | None) -> bool:
    """True when ``OTEL_SEMCONV_STABILITY_OPT_IN`` (comma-separated) holds ``gen_ai_latest_experimental``."""
    return "gen_ai_latest_experimental" in {v.strip() for v in (opt_in or "").split(",")}


def operation_name(event: Mapping[str, Any]) -> str:
    """``gen_ai.operation.name``: ``embeddings`` for embedding calls, else ``chat``."""
    return _OPERATIONS.get(str(event.get("call_type")), "chat")


def provider_name(event: Mapping[str, Any]) -> str:
    """``gen_ai.provider.name`` for the record's provider."""
    provider = str(event.get("provider") or "unknown")
    return PROVIDER_NAMES.get(provider, provider)


def request_model(event: Mapping[str, Any]) -> str:
    """``gen_ai.request.model``: the model asked of the provider (``model``; the SDK's
    ``requested_model`` carries a routing prefix and the proxy's is the public model group)."""
    return str(event.get("model") or event.get("requested_model") or "unknown")


def metric_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """The low-cardinality attributes of the ``gen_ai.client.*`` metrics (+ ``error.type``)."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation_name(event),
        "gen_ai.provider.name": provider_name(event),
        "gen_ai.request.model": request_model(event),
    }
    response_model = event.get("response_model") or event.get("model")
    if response_model:
        attrs["gen_ai.response.model"] = response_model
    error = event.get("error")
    if event.get("status") == "failure":
        attrs["error.type"] = (error or {}).get("type") or "_OTHER"
    return attrs


def span_attributes(event: Mapping[str, Any], *, latest: bool, content: bool) -> dict[str, Any]:
    """Every span attribute of one call (see the module docstring for names and modes)."""
    attrs = metric_attributes(event)
    if not latest:
        attrs["gen_ai.system"] = attrs["gen_ai.provider.name"]
    if event.get("response_id"):
        attrs["gen_ai.response.id"] = event["response_id"]
    if event.get("finish_reasons"):
        attrs["gen_ai.response.finish_reasons"] = [str(r) for r in event["finish_reasons"]]
    attrs.update(_usage_attributes(event.get("usage") or {}))
    attrs.update(_request_attributes(event.get("request_params") or {}))
    attrs.update(_server_attributes(event.get("api_base")))
    attrs.update(_cost_attributes(event.get("cost") or {}))
    attrs.update({name: event[key] for key, name in _WHO.items() if event.get(key)})
    session = (event.get("metadata") or {}).get("session_id")
    if isinstance(session, str) and session:
        attrs["gen_ai.conversation.id"] = session
    if event.get("request_tags"):
        attrs["ledgerlm.request.tags"] = [str(t) for t in event["request_tags"]]
    attrs["ledgerlm.cache_hit"] = bool(event.get("cache_hit"))
    attrs["ledgerlm.retries"] = int(event.get("retries") or 0)
    ttft = event.get("time_to_first_token_s")
    if ttft is not None:
        attrs["ledgerlm.time_to_first_token_s"] = float(ttft)
    if latest:
        attrs["gen_ai.request.stream"] = bool(event.get("stream"))
        if ttft is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = float(ttft)
    if content:
        attrs.update(_content_attributes(event, latest=latest))
    return attrs


_MODALITY_USAGE: dict[str, str] = {
    "input_audio_tokens": "gen_ai.usage.audio.input_tokens",
    "input_image_tokens": "gen_ai.usage.image.input_tokens",
    "output_audio_tokens": "gen_ai.usage.audio.output_tokens",
}


def _usage_attributes(usage: Mapping[str, Any]) -> dict[str, Any]:
    attrs = {name: int(usage.get(key) or 0) for key, name in _USAGE.items()}
    # modality parts: only when the provider reported some (the conventions say "only when reported")
    attrs.update({name: int(usage[key]) for key, name in _MODALITY_USAGE.items() if usage.get(key)})
    return attrs


def _request_attributes(params: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, name in _REQUEST_PARAMS.items():
        value = params.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[name] = value
    stop = params.get("stop")
    if stop:
        attrs["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else [str(s) for s in stop]
    n = params.get("n")
    if isinstance(n, int) and n != 1:
        attrs["gen_ai.request.choice.count"] = n
    return attrs


def _server_attributes(api_base: Any) -> dict[str, Any]:
    if not api_base:
        return {}
    parts = urlsplit(str(api_base))
    if not parts.hostname:
        return {}
    attrs: dict[str, Any] = {"server.address": parts.hostname}
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    if port:
        attrs["server.port"] = port
    return attrs


def _cost_attributes(cost: Mapping[str, Any]) -> dict[str, Any]:
    total = cost.get("total")
    attrs: dict[str, Any] = {"ledgerlm.cost.priced": total is not None}
    if total is None:
        attrs["ledgerlm.cost.unpriced_reason"] = cost.get("unpriced_reason") or "unknown"
        return attrs
    attrs["ledgerlm.cost.total_usd"] = float(total)
    attrs["ledgerlm.cost.total_decimal"] = str(total)
    for category, amount in (cost.get("breakdown") or {}).items():
        attrs[f"ledgerlm.cost.{category}_usd"] = float(amount)
    if cost.get("source"):
        attrs["ledgerlm.cost.source"] = cost["source"]
    return attrs


def _content_attributes(event: Mapping[str, Any], *, latest: bool) -> dict[str, Any]:
    messages, response = event.get("messages"), event.get("response")
    attrs: dict[str, Any] = {}
    if latest:
        if messages is not None:
            attrs["gen_ai.input.messages"] = _json(_input_messages(messages))
        if response is not None:
            attrs["gen_ai.output.messages"] = _json(_output_messages(response))
        return attrs
    if messages is not None:
        attrs["gen_ai.prompt"] = _json(messages)
    if response is not None:
        attrs["gen_ai.completion"] = _json(response)
    return attrs


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content -> GenAI message parts (``text`` parts; other parts kept as is)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for item in content if isinstance(content, list) else [content]:
        if isinstance(item, Mapping) and item.get("type") == "text":
            parts.append({"type": "text", "content": item.get("text", "")})
        else:
            parts.append(dict(item) if isinstance(item, Mapping) else {"type": "text", "content": str(item)})
    return parts


def _tool_call_parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        out.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    return out


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        return [{"role": "user", "parts": _parts(messages)}]
    return [
        {"role": m.get("role", "user"), "parts": _parts(m.get("content")) + _tool_call_parts(m)}
        for m in messages
        if isinstance(m, Mapping)
    ]


def _output_messages(response: Any) -> list[dict[str, Any]]:
    choices = response.get("choices") if isinstance(response, Mapping) else None
    if not isinstance(choices, list):
        return [{"role": "assistant", "parts": _parts(_json(response))}]
    out = []
    for choice in choices:
        message = choice.get("message") or {}
        out.append(
            {
                "role": message.get("role", "assistant"),
                "parts": _parts(message.get("content")) + _tool_call_parts(message),
                "finish_reason": choice.get("finish_reason") or "stop",
            }
        )
    return out
