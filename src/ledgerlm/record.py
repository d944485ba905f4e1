"""``CallRecord``: the standard logging payload, built once per call.

Every consumer (callbacks, spend writer, budget settlement, exporters) reads this one record. It is
versioned (``schema_version``); its JSON schema is published at ``schema/call_record.schema.json`` and a
test keeps that file equal to ``CallRecord.model_json_schema()``.

Amounts are decimal strings in the JSON form (``model_dump(mode="json")``), ``Decimal`` in Python.
Times are UNIX epoch seconds (float) as in LiteLLM's standard logging payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

SCHEMA_VERSION = 1

ATTEMPT_MARK = "~attempt-"
"""In a spend row's request id ``<request id>~attempt-<n>``: an earlier billable provider attempt of a
routed request (retries, fallbacks; ``ledgerlm.routing.attempts``). Its spend and tokens count in every
total; it counts in no request counter (the request's own row does)."""

Money = Annotated[
    Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")
]
"""USD as ``Decimal``; in JSON a plain decimal string (``"0.00000008"``, never ``"8E-8"`` nor a float)."""

CallType = Literal[
    "completion",
    "acompletion",
    "embedding",
    "aembedding",
    "messages",
    "amessages",
    "responses",
    "aresponses",
    "text_completion",
    "atext_completion",
    "aimage_generation",
    "aimage_edit",
    "aimage_variation",
    "atranscription",
    "atranslation",
    "aspeech",
    "amoderation",
    "arerank",
    "acount_tokens",
    "pass_through_endpoint",
    "aget_responses",  # GET /v1/responses/{id} (LiteLLM's call type names), free
    "adelete_responses",
    "alist_input_items",
]
CallStatus = Literal["success", "failure"]


class UsageRecord(BaseModel):
    """Canonical usage (see ``ledgerlm.types.Usage``), tokens."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    web_search_requests: int = 0
    service_tier: str | None = None
    provider_cost: Money | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


class CostRecord(BaseModel):
    """Cost in USD with its breakdown and provenance; ``total`` is ``None`` when unpriced."""

    model_config = ConfigDict(extra="forbid")

    total: Money | None = None
    currency: str = "USD"
    breakdown: dict[str, Money] = Field(default_factory=dict)
    unpriced_reason: str | None = None
    source: Literal["catalog", "custom", "provider"] | None = None
    model_ref: str | None = None
    tier: str | None = None
    data_version: str | None = None
    price_id: str | None = None  # the price book entry (ledgerlm.pricing.price_id)


class ErrorRecord(BaseModel):
    """What went wrong on a failed call."""

    model_config = ConfigDict(extra="forbid")

    type: str
    status: int | None = None
    message: str
    provider_body: Any = None


class CallRecord(BaseModel):
    """The standard logging payload of one call (success or failure), built once at its end.

    Shape: see the field list; times in epoch seconds, latency in seconds, usage in tokens, cost in USD.
    ``messages`` and ``response`` are present only when content logging is on for the consumer.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    call_type: CallType
    status: CallStatus
    requested_model: str
    model: str
    model_group: str | None = None
    deployment_id: str | None = None
    provider: str
    api_base: str | None = None
    start_time: float
    end_time: float
    first_token_time: float | None = None
    latency_s: float
    time_to_first_token_s: float | None = None
    usage: UsageRecord = Field(default_factory=UsageRecord)
    cost: CostRecord = Field(default_factory=CostRecord)
    response_cost: Money | None = None
    cache_hit: bool = False
    stream: bool = False
    retries: int = 0
    request_tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    key_hash: str | None = None
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    end_user: str | None = None
    requester_ip: str | None = None
    error: ErrorRecord | None = None
    finish_reasons: list[str] = Field(default_factory=list)
    response_id: str | None = None
    response_model: str | None = None
    request_params: dict[str, Any] = Field(default_factory=dict)
    messages: Any = None
    response: Any = None
    no_log: bool = False
    """The call was made with ``no_log=True``: content is never logged or exported for it."""


@dataclass
class RecordEvent:
    """One terminal event for the record stages: the ``record`` (normalised: a ``no_log`` call carries
    no content) and, for stages that export content, :meth:`with_content`."""

    record: CallRecord
    content: Callable[[], tuple[Any, Any]] | None = None
    """``() -> (messages, response)`` of the call when content logging is allowed (built lazily)."""
    _filled: CallRecord | None = field(default=None, repr=False)

    def with_content(self) -> CallRecord:
        """The record with ``messages`` / ``response`` taken from the call where the record has none
        (what ``standard_logging_object`` carries to a callback); the record itself when not allowed."""
        if self._filled is None:
            self._filled = self._fill()
        return self._filled

    def _fill(self) -> CallRecord:
        record = self.record
        if self.content is None or (record.messages is not None and record.response is not None):
            return record
        messages, response = self.content()
        update: dict[str, Any] = {}
        if record.messages is None and messages is not None:
            update["messages"] = messages
        if record.response is None and response is not None:
            dump = getattr(response, "model_dump", None)
            update["response"] = dump(mode="json") if dump is not None else response
        return record.model_copy(update=update) if update else record
