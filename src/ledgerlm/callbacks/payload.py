"""The callback payload: LiteLLM-shaped ``kwargs`` built once per event, off the response path.

``kwargs`` keys (LiteLLM's names, so drop-in callbacks work):

* ``model`` (the model as requested), ``messages`` (redacted: see ``ledgerlm.redaction``),
  ``optional_params`` (the call's parameters, secrets removed), ``call_type``, ``stream``,
  ``litellm_call_id`` (the request id), ``litellm_params`` (``metadata``, ``api_base``,
  ``acompletion``, ``stream``, ``no_log``), ``log_event_type``; at the terminal event ``metadata`` also
  carries who made the call under LiteLLM's names (``user_api_key_hash``, ``user_api_key_team_id`` ...,
  ``tags``) when the record has them;
* terminal events add ``response_cost`` (``Decimal`` USD, ``None`` when unpriced), ``cache_hit``,
  ``start_time`` / ``end_time`` / ``completion_start_time`` (UTC ``datetime``),
  ``standard_logging_object`` (``CallRecord.model_dump(mode="json")``, redacted and scrubbed, computed
  once per call and shared by every callback), ``complete_streaming_response`` (streams), and on failure
  ``exception`` (the exception object) and ``error_str`` (its scrubbed text).

Each callback receives its own shallow copy of ``kwargs``; nested values are shared, do not mutate them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledgerlm import redaction
from ledgerlm.objects import OpenAIObject
from ledgerlm.record import CallRecord

__all__ = ["CallInfo", "pre_call_kwargs", "terminal_kwargs", "to_datetime", "visible_response"]


@dataclass(slots=True)
class CallInfo:
    """What ``start_call`` received, kept for the payload builders."""

    call_type: str
    model: str
    messages: Any
    params: dict[str, Any]
    metadata: dict[str, Any]
    request_id: str | None
    stream: bool
    is_async: bool
    no_log: bool
    start_time: float
    extra: dict[str, Any] = field(default_factory=dict)

    def content_allowed(self) -> bool:
        """Content may reach callbacks (not ``no_log``, not ``turn_off_message_logging``)."""
        return redaction.content_logging_allowed(no_log=self.no_log)


_CONTENT_PARAMS = frozenset({"messages", "input", "prompt", "system"})


def to_datetime(epoch: float | None) -> datetime | None:
    """Epoch seconds to a timezone-aware UTC datetime (``None`` stays ``None``)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def _messages(info: CallInfo) -> Any:
    if info.content_allowed():
        return redaction.scrub(info.messages)
    return redaction.scrub(redaction.strip_content(info.messages))


def pre_call_kwargs(info: CallInfo, log_event_type: str = "pre_api_call") -> dict[str, Any]:
    """The ``kwargs`` of pre-call and per-chunk events (no record exists yet)."""
    return {
        "model": info.model,
        "messages": _messages(info),
        "optional_params": redaction.scrub(
            {k: v for k, v in info.params.items() if k not in _CONTENT_PARAMS}
        ),
        "call_type": info.call_type,
        "stream": info.stream,
        "litellm_call_id": info.request_id,
        "litellm_params": {
            "metadata": redaction.scrub(info.metadata),
            "api_base": None,
            "acompletion": info.is_async,
            "stream": info.stream,
            "no_log": info.no_log,
        },
        "start_time": to_datetime(info.start_time),
        "log_event_type": log_event_type,
    }


def standard_logging_object(info: CallInfo, record: CallRecord, response: Any = None) -> dict[str, Any]:
    """``record.model_dump(mode="json")`` with content kept only when allowed, every string scrubbed.

    When content is allowed and the record carries none, ``messages`` come from the call and
    ``response`` from the response object (JSON dict form).
    """
    data = record.model_dump(mode="json")
    if info.content_allowed():
        if data.get("messages") is None and info.messages is not None:
            data["messages"] = info.messages
        if data.get("response") is None and response is not None:
            data["response"] = (
                response.model_dump(mode="json") if hasattr(response, "model_dump") else response
            )
    else:
        data["messages"] = None
        data["response"] = None
    scrubbed: dict[str, Any] = redaction.scrub(data)
    return scrubbed


def terminal_kwargs(
    info: CallInfo, record: CallRecord, response_obj: Any, exc: BaseException | None
) -> dict[str, Any]:
    """The ``kwargs`` of the success / failure event (see the module docstring).

    ``response_obj`` is the response as hooks see it (already passed through :func:`visible_response`).
    """
    kwargs = pre_call_kwargs(info, "successful_api_call" if exc is None else "failed_api_call")
    kwargs["model"] = info.model or record.requested_model
    kwargs["litellm_call_id"] = record.id
    given = redaction.scrub(record.metadata or info.metadata)
    kwargs["litellm_params"]["metadata"] = {  # identity from the key only: never the caller's metadata
        **{k: v for k, v in given.items() if k not in _IDENTITY_NAMES},
        **_litellm_identity(record),
    }
    kwargs["litellm_params"]["api_base"] = record.api_base
    kwargs.update(
        response_cost=record.response_cost if record.response_cost is not None else record.cost.total,
        cache_hit=record.cache_hit,
        start_time=to_datetime(record.start_time),
        end_time=to_datetime(record.end_time),
        completion_start_time=to_datetime(record.first_token_time),
        standard_logging_object=standard_logging_object(info, record, None if exc else response_obj),
    )
    if info.stream and exc is None:
        kwargs["complete_streaming_response"] = response_obj
    if exc is not None:
        kwargs["exception"] = exc
        kwargs["error_str"] = redaction.scrub_text(str(exc))
    return kwargs


_IDENTITY_FIELDS: tuple[tuple[str, str], ...] = (
    ("user_api_key_hash", "key_hash"),
    ("user_api_key_alias", "key_alias"),
    ("user_api_key_user_id", "user_id"),
    ("user_api_key_team_id", "team_id"),
    ("user_api_key_org_id", "organization_id"),
    ("user_api_key_end_user_id", "end_user"),
    ("requester_ip_address", "requester_ip"),
)
"""LiteLLM's ``StandardLoggingMetadata`` names -> ``CallRecord`` fields (proxy callers)."""
_IDENTITY_NAMES = frozenset(name for name, _ in _IDENTITY_FIELDS) | {"user_api_key"}


def _litellm_identity(record: CallRecord) -> dict[str, Any]:
    """Who made the call, under LiteLLM's metadata names (only the fields that are set), plus ``tags``."""
    out: dict[str, Any] = {
        name: getattr(record, field) for name, field in _IDENTITY_FIELDS if getattr(record, field)
    }
    if record.request_tags:
        out["tags"] = list(record.request_tags)
    return out


def visible_response(info: CallInfo, response_obj: Any) -> Any:
    """The response object handed to hooks: a content-free copy when content is off; a plain dict
    (the engine's OpenAI body, an assembled stream) gets attribute access like the SDK's responses
    (``response_obj.usage.prompt_tokens``), as LiteLLM callbacks expect."""
    if response_obj is None:
        return None
    visible = response_obj if info.content_allowed() else redaction.strip_content(response_obj)
    if type(visible) is dict:
        return OpenAIObject(visible)
    return visible
