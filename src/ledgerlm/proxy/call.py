"""``ProxyCall``: one LLM request after authentication, as a pipeline of named steps.

::

    parse body -> route (model group -> deployment, 404/403) -> tags (400) -> CallContext
      -> pre-call hooks (400) -> admission.reserve (429) -> engine (spend row via the sink) -> headers

The lifecycle around these steps (errors, cancellation, streaming, responses) is
``ledgerlm.proxy.lifecycle``; ``write_failure`` spools the row of an error the engine did not record.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from ledgerlm.budgets.contract import Reservation
from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.errors import (
    BadRequestError,
    InternalServerError,
    LedgerLMError,
    MissingAPIKeyError,
    ServiceUnavailableError,
)
from ledgerlm.pricing.unit_worst import unit_worst_case
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy._types import UserAPIKeyAuth
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.routing_call import ROUTING_FIELDS, RoutedCall
from ledgerlm.proxy.spend import RecordingSink, emit_failure, failure_record
from ledgerlm.proxy.state import ProxyState
from ledgerlm.record import CallRecord, CallType
from ledgerlm.types import CallContext

__all__ = ["ProxyCall", "operator_error", "request_id_of", "upstream_body"]

END_USER_HEADER = "x-litellm-end-user-id"
REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID_CHARS = 200  # leaves room for the "~<12 hex>" suffix of a reused id (VARCHAR(255))
MAX_END_USER_CHARS = 255  # spend_logs.end_user / end_users.user_id are VARCHAR(255)
_PROXY_ONLY_FIELDS = frozenset(
    {"metadata", "tags"}
    # LiteLLM-only request fields: consumed by the proxy, never sent to a provider
    | {"fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "num_retries", "mock_response"}
    | {"caching", "cache", "request_timeout", "timeout", "user_config", "no-log", "litellm_metadata"}
    | set(ROUTING_FIELDS)  # read by ledgerlm.proxy.routing_call
)
_PROXY_ONLY_PREFIX = "mock_testing_"
# LiteLLM's client-side credentials (endpoint, key, cloud credentials in the request body): LiteLLM refuses
# api_base / base_url unless allow_client_side_credentials; this proxy has no such opt-in, so all are 400
CLIENT_CREDENTIAL_FIELDS = (
    "api_base",
    "base_url",
    "api_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_profile_name",
    "aws_bearer_token",
    "vertex_credentials",
    "vertex_token",
)


def upstream_body(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the proxy-only and LiteLLM-only fields (``metadata``, ``tags``, ``fallbacks``,
    ``num_retries``, ``mock_response``, ``mock_testing_*``, ``caching``, ``request_timeout``,
    ``user_config`` ...): what a provider may see."""
    return {
        k: v for k, v in body.items() if k not in _PROXY_ONLY_FIELDS and not k.startswith(_PROXY_ONLY_PREFIX)
    }


def overhead_split(t0: float, marks: list[tuple[str, float]]) -> str:
    """``auth=0.041;body=0.012;...``: milliseconds each stage took since the previous mark (``t0``: the
    request's arrival; the last stage ends when the response headers are built)."""
    parts, last = [], t0
    for stage, at in [*marks, ("respond", time.perf_counter())]:
        parts.append(f"{stage}={(at - last) * 1000.0:.3f}")
        last = at
    return ";".join(parts)


def request_id_of(request: Request) -> str:
    """The client's ``x-request-id`` when sane (1..200 printable ASCII), else a new uuid4 (a longer
    one is then refused by ``ProxyCall.route`` with 400)."""
    given = request.headers.get(REQUEST_ID_HEADER)
    if given and len(given) <= MAX_REQUEST_ID_CHARS and given.isascii() and given.isprintable():
        return given
    return str(uuid.uuid4())


def refuse_client_credentials(body: dict[str, Any]) -> None:
    """400 ``invalid_request_error`` (code ``client_side_credentials``) naming the first of
    ``CLIENT_CREDENTIAL_FIELDS`` present in ``body``: a caller may not redirect its call to another
    upstream or credential (LiteLLM docs "Clientside LLM Credentials"; no opt-in here)."""
    for name in CLIENT_CREDENTIAL_FIELDS:
        if name in body:
            raise BadRequestError(
                f"Rejected Request: {name} is not allowed in the request body; the upstream endpoint and "
                "credentials come from the proxy config",
                param=name,
                code="client_side_credentials",
            )


def _check_length(value: str, limit: int, name: str) -> None:
    """400 ``invalid_request_error`` naming ``name`` (a header or body field) when ``value`` is longer
    than ``limit`` characters."""
    if len(value) > limit:
        raise BadRequestError(
            f"{name} is too long: {len(value)} characters, at most {limit}", param=name, code="value_too_long"
        )


def operator_error(exc: BaseException, deployment: Deployment | None, model_group: str) -> BaseException:
    """The error the CLIENT sees for ``exc``: a deployment without an API key is the operator's
    misconfiguration, not the caller's fault, so the SDK's ``MissingAPIKeyError`` (400) becomes a 500
    ``api_error`` (code ``deployment_missing_api_key``) naming the deployment, model group and the
    variable to set (never a secret). Any other error is returned unchanged."""
    if not isinstance(exc, MissingAPIKeyError):
        return exc
    from ledgerlm.providers import get_provider

    provider_name = deployment.provider if deployment else (exc.provider or "?")
    try:
        names = list(get_provider(provider_name).api_key_env)
    except LedgerLMError:  # an unknown provider: name no variable rather than fail the error path
        names = []
    where = " or ".join([*names[:1], "litellm_params.api_key"])
    deployment_id = deployment.deployment_id if deployment else None
    return InternalServerError(
        f"proxy misconfiguration: deployment {deployment_id!r} of model group {model_group!r} "
        f"({provider_name}) has no API key; the proxy operator must set {where}",
        code="deployment_missing_api_key",
    )


def _client_ip(request: Request) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",", 1)[0].strip() or None
    return request.client.host if request.client else None


class ProxyCall:
    """State of one proxied call; see the module docstring for the steps."""

    def __init__(
        self,
        state: ProxyState,
        request: Request,
        key: KeyContext,
        request_id: str,
        call_type: CallType,
        *,
        t0: float | None = None,
    ) -> None:
        self.state = state
        self.request = request
        self.key = key
        self.call_type: CallType = call_type
        self.t0 = time.perf_counter() if t0 is None else t0  # request arrival (before auth), seconds
        self.start_time = time.time()
        self.body: dict[str, Any] = {}
        self.model = ""
        self.stream = False
        self.deployment: Deployment | None = None
        self.reservation: Reservation | None = None
        self.routed: RoutedCall | None = None
        self.cache_key: str | None = None  # response cache key (hit or stored)
        self._request_tags: list[str] = []
        # what an endpoint's reader keeps beside the body: an uploaded file, the raw bytes
        self.attachments: dict[str, Any] = {}
        self.sink = RecordingSink(state.store.append, defer=state.store_prompts)
        self.marks: list[tuple[str, float]] | None = [] if state.overhead_split else None
        self.ctx = CallContext(
            request_id=request_id,
            key_hash=key.token,
            key_alias=key.key_alias,
            user_id=key.user_id,
            team_id=key.team_id,
            organization_id=key.org_id,
            # litellm_settings.turn_off_message_logging: no callback payload or export carries content
            no_log=state.config.litellm_settings.turn_off_message_logging,
        )

    async def route(self, body: dict[str, Any], *, need: str) -> None:
        """Validate the body's ``model`` and ``need`` field, pick the deployment, resolve tags."""
        store = self.state.store
        given_id = self.request.headers.get(REQUEST_ID_HEADER, "")
        _check_length(given_id, MAX_REQUEST_ID_CHARS, REQUEST_ID_HEADER)  # the call has a fresh uuid
        if self.state.reject_when_spool_unhealthy and not store.spool_ok:
            raise ServiceUnavailableError(
                f"spend logging unavailable ({store.spool_reason}); refusing unlogged traffic",
                code="spool_unhealthy",
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequestError("'model' is required (a string)", param="model", code="missing_model")
        refuse_client_credentials(body)
        self.model = model
        self.ctx.model_group = model
        self.body = body
        headers = self.request.headers
        # the request's tags are recorded only once resolved (validated): a request refused for its
        # tags (10,000 of them) leaves its one failure row and no tag rows (issue 14)
        request_tags = self.state.tags.from_request(body, headers)
        self._context_fields(body)
        if need not in body:
            raise BadRequestError(f"'{need}' is required", param=need, code=f"missing_{need}")
        self._request_tags = request_tags
        await self._pick(body, model)

    async def _pick(self, body: dict[str, Any], model: str) -> None:
        """Model group ``model`` -> access check (403) -> first deployment (404/429) -> tag step."""
        self.model = model
        self.ctx.model_group = model
        self.routed = RoutedCall(
            self.state.router, self.key, body, model, stream=self.stream, tags=self._request_tags
        )
        self.deployment = await self.routed.pick()
        headers = self.request.headers
        self.state.tags.step(self.ctx, self.key, self._request_tags, self.deployment.tags, headers)

    def _context_fields(self, body: dict[str, Any]) -> None:
        user = body.get("user")
        if user is not None and not isinstance(user, str):
            raise BadRequestError("'user' must be a string", param="user")
        if user is not None and "\x00" in user:
            raise BadRequestError("'user' may not contain a NUL character (\\u0000)", param="user")
        header = self.request.headers.get(END_USER_HEADER)
        _check_length(user or "", MAX_END_USER_CHARS, "user")
        _check_length(header or "", MAX_END_USER_CHARS, END_USER_HEADER)
        self.ctx.end_user = user or header or None
        self.ctx.requester_ip = _client_ip(self.request)
        metadata = body.get("metadata")
        if isinstance(metadata, dict):
            self.ctx.metadata = {k: v for k, v in metadata.items() if k not in ("tags", "tag_policy")}
        traceparent = self.request.headers.get("traceparent")
        if traceparent:
            self.ctx.metadata["traceparent"] = traceparent

    async def admit(self) -> dict[str, Any]:
        """Pre-call hooks then admission; returns the body to send upstream (proxy-only fields removed)."""
        upstream = await self.run_pre_hooks()
        assert self.deployment is not None
        await self.reserve(self.deployment, upstream)
        return upstream

    async def run_pre_hooks(self) -> dict[str, Any]:
        """Pre-call hooks; the body to send upstream (proxy-only fields removed). A hook that changes
        ``model`` re-routes the call (LiteLLM routes after its pre-call hooks): the new model group's
        access check (403), unknown model (404), its first deployment and its tags."""
        state = self.state
        body = self.body
        if state.hooks.pre:
            before = body.get("model")
            body = await state.hooks.pre_call(self.hook_key(), body, _hook_call_type(self.call_type))
            self.body = body
            model = body.get("model")
            if model != before:  # bodies without a model (pass-through, lookups) are not re-routed
                if not isinstance(model, str) or not model:
                    message = "a pre-call hook left 'model' empty or not a string"
                    raise BadRequestError(message, param="model", code="missing_model")
                await self._pick(body, model)
        return upstream_body(body)

    async def reserve(self, deployment: Deployment, upstream: dict[str, Any], worst_case: Any = None) -> None:
        """Admission on the body exactly as the engine gets it for ``deployment`` (issue 14: the
        reservation is computed from the request as sent upstream); ``worst_case``: a price (``max_cost``)
        the endpoint computed from what the body does not show (a transcription's file)."""
        estimated = _estimated(self.call_type, upstream)
        unit = worst_case or unit_worst_case(self.call_type, deployment.provider, deployment.model, upstream)
        if unit is not None:  # images, moderations, rerank: priced per unit, not per token
            deployment = dataclasses.replace(deployment, price=unit)
        self.reservation = await self.state.admission.reserve(self.ctx, deployment, estimated)

    def hook_key(self) -> UserAPIKeyAuth:
        """The caller as hooks see it (LiteLLM's ``UserAPIKeyAuth``): a copy carrying this request's
        end user."""
        return UserAPIKeyAuth.from_key(self.key, end_user_id=self.ctx.end_user)

    def engine_kwargs(self) -> dict[str, Any]:
        """``{"options": engine_options()}``: keyword arguments for ``engine.chat`` / ``embed``."""
        return {"options": self.engine_options()}

    def engine_options(self) -> CallOptions:
        """The ``CallOptions`` of ``engine.chat`` / ``chat_stream`` / ``embed`` outside the router (one
        attempt on the picked deployment; ``run`` is the routed path)."""
        state = self.state
        deployment = self.deployment
        assert deployment is not None
        retries = state.registry.retries_by_deployment.get(deployment.deployment_id or "", state.num_retries)
        asked = self.body.get("num_retries")
        if isinstance(asked, int) and not isinstance(asked, bool) and 0 <= asked <= 10:
            retries = asked  # LiteLLM's per-request num_retries
        timeout = deployment.timeout or state.timeout
        if self.stream and deployment.extra.get("stream_timeout"):
            timeout = float(deployment.extra["stream_timeout"])  # the deployment's stream_timeout
        asked_timeout = self.body.get("request_timeout", self.body.get("timeout"))
        if (
            isinstance(asked_timeout, (int, float))
            and not isinstance(asked_timeout, bool)
            and asked_timeout > 0
        ):
            timeout = float(asked_timeout)  # LiteLLM's per-request timeout (seconds)
        return CallOptions(
            self.ctx,
            self.call_type,
            num_retries=retries,
            timeout=timeout,
            callbacks=tuple(state.callbacks.per_call or ()),
            sinks=(self.sink,),
            runtime=state.runtime,
        )

    async def run(self, admitted: dict[str, Any], call: Any) -> Any:
        """``call(deployment, body, options)`` through the router: retries, fallbacks, cooldowns,
        each attempt's record routed by ``AttemptLedger`` (``routing.attempts``). Before each attempt
        ``deployment`` (and the logged model group) is the attempt's."""
        assert self.routed is not None

        def on_attempt(deployment: Deployment) -> None:
            self.deployment = deployment
            self.ctx.model_group = deployment.model_group or self.model  # a fallback's group is logged

        base = CallOptions(
            self.ctx,
            self.call_type,
            callbacks=tuple(self.state.callbacks.per_call or ()),
            runtime=self.state.runtime,
        )
        return await self.routed.run(admitted, call, base, self.sink, self.state.store.append, on_attempt)

    def mark(self, stage: str) -> None:
        """End of a lifecycle stage, for ``x-ledgerlm-overhead-split`` (a no-op unless it is on)."""
        if self.marks is not None:
            self.marks.append((stage, time.perf_counter()))

    def headers(self, record: CallRecord | None = None, cost: Decimal | None = None) -> dict[str, str]:
        """Response headers: request id, cost (decimal string; absent when unpriced), our overhead (ms)."""
        rid = self.ctx.request_id
        out = {"x-request-id": rid, "x-litellm-call-id": rid}
        if self.deployment is not None and self.deployment.deployment_id:
            out["x-litellm-model-id"] = self.deployment.deployment_id
        if self.routed is not None:
            out.update(self.routed.headers(self.deployment))
        if self.cache_key is not None:
            out["x-litellm-cache-key"] = self.cache_key
        if cost is not None:
            text = format(cost, "f")
            out["x-litellm-response-cost"] = text
            out["x-ledgerlm-response-cost"] = text
        if record is not None:
            overhead_s = max(0.0, time.perf_counter() - self.t0 - record.latency_s)
            out["x-ledgerlm-overhead-ms"] = f"{overhead_s * 1000.0:.3f}"
            observe = self.state.observe_overhead
            if observe is not None:
                observe(overhead_s, model_group=self.model, provider=record.provider)
        if self.reservation is not None:
            out.update(self.state.admission.headers(self.reservation))
        if self.marks is not None:
            out["x-ledgerlm-overhead-split"] = overhead_split(self.t0, self.marks)
        return out

    async def settle(self, record: CallRecord | None) -> None:
        """Settle the reservation with the call's cost (or release it when nothing was spent).

        Every route calls it before answering, so it is also where a deferred spend row
        (``store_prompts_in_spend_logs``) is written at the latest (routes that know the response
        flush it first with ``sink.flush(content, response)``)."""
        self.sink.flush(self.content(), None)
        reservation, self.reservation = self.reservation, None
        if reservation is None:
            return
        cost = record.response_cost if record is not None else None
        extra = self.routed.extra_cost() if self.routed is not None else None
        if extra:  # earlier billable attempts of a routed request (retries, fallbacks)
            cost = extra + (cost or 0)
        if record is not None and (record.status == "success" or cost):
            reservation.data["tokens"] = record.usage.total_tokens  # tpm limits (budgets)
            if record.status == "success":  # reservation_estimate: expected learns output sizes
                reservation.data["output_tokens"] = record.usage.output_tokens
            await self.state.admission.settle(reservation, cost)
        else:
            await self.state.admission.release(reservation)

    def content(self) -> Any:
        """The request content stored with ``store_prompts_in_spend_logs`` (messages, input or prompt)."""
        return self.body.get("messages", self.body.get("input", self.body.get("prompt")))

    def write_failure(self, exc: BaseException) -> None:
        """Spool a ``failure`` row for an error the engine did not record."""
        options = CallOptions(self.ctx, self.call_type)
        call = Call(options, self.deployment, {}, self.stream, self.start_time, requested_model=self.model)
        record = failure_record(call, exc, self.content() if self.state.store_prompts else None)
        emit_failure(record, exc, self.state.callbacks.per_call, self.sink, self.ctx, self.state.runtime)


def _estimated(call_type: CallType, body: dict[str, Any]) -> dict[str, Any]:
    """The body admission estimates from. A Responses-API body carries ``input`` like an embeddings
    body but produces output: it is marked (an empty ``messages``) so its output bound
    (``max_output_tokens``, else the fallback) is reserved, never zero."""
    if call_type in ("aresponses", "responses") and "messages" not in body:
        return {**body, "messages": []}
    return body


def _hook_call_type(call_type: CallType) -> str:
    return "embeddings" if "embedding" in call_type else "completion"
