"""The routes of ``general_settings.pass_through_endpoints`` (``ledgerlm.proxy.passthrough_config``):
the request goes to the entry's ``target`` as it is (method, body bytes, query), the answer comes back
unchanged (JSON, SSE or any bytes), and one spend row is logged, call type ``pass_through_endpoint``,
model group = the route's path, ``api_base`` = the target:

* cost: ``cost_per_request`` when the entry sets it (``request`` in the breakdown); else from the
  answer's usage when it is in a known format (OpenAI chat/completions/embeddings/responses,
  Anthropic Messages, Gemini ``usageMetadata``; SSE streams of those too) priced from the catalog by
  the body's ``model``; else unpriced with the reason, never ``$0``;
* ``auth: true``: a proxy key is required (401 in OpenAI's format, no row); the key's tags, budgets
  and limits apply (admission reserves on the body, or ``cost_per_request`` up front; settles on the
  cost). Open routes (``Endpoint.anonymous``) log rows with no key and are never admitted;
* an error answer of the target is relayed as it came (status, body) with a failure row; an
  unreachable target is a 502/504 in OpenAI's error format, with a failure row.

Each entry is one lifecycle ``Endpoint`` (``custom_endpoint``; ``ledgerlm.proxy.lifecycle``), as the
provider pass-through routes (``passthrough``)::

    credentials (auth routes: Authorization / x-api-key / api-key / x-litellm-api-key; open: none)
      -> read_raw (the bytes as sent) -> resolve (the target as the deployment, tags)
      -> pre-call hooks (may refuse; a body they change is sent re-encoded) -> admission (auth routes)
      -> send once to the target (``custom_passthrough_call``: the row) -> the answer relayed
         (``Reply`` with the target's status and headers, or a ``CustomRelay`` stream)
      any error / client gone: the lifecycle's failure path (one failure row, reservation released)

A path that one of ledgerlm's own routes serves is not mounted (a warning at start), as in LiteLLM,
whose built-in routes come first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from ledgerlm.pricing.unit_worst import UnitWorstCase
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.body_readers import read_raw
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints.custom_passthrough_call import custom_open, custom_plain
from ledgerlm.proxy.endpoints.passthrough import relay_encode, relayed_error, relayed_stream
from ledgerlm.proxy.endpoints.passthrough_stream import RawEncoder
from ledgerlm.proxy.lifecycle import Endpoint, Upstream, inference_route
from ledgerlm.proxy.passthrough_config import PassThroughEndpoint, parse_pass_through_endpoints, target_url

__all__ = ["custom_endpoint", "routes"]

log = logging.getLogger("ledgerlm.proxy")

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
_PROXY_KEYS = {"authorization", "x-api-key", "api-key", "x-litellm-api-key"}


def _upstream_headers(entry: PassThroughEndpoint, request: Request) -> dict[str, str]:
    """The caller's headers when ``forward_headers`` (never hop-by-hop ones, never the proxy key of an
    ``auth`` route), then the entry's ``headers`` over them."""
    out: dict[str, str] = {}
    if entry.forward_headers:
        dropped = _HOP | (_PROXY_KEYS if entry.auth else set())
        out = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
    elif "content-type" in request.headers:
        out["content-type"] = request.headers["content-type"]
    out.update(entry.headers)
    return out


def _credentials(request: Request) -> Mapping[str, str]:
    """The proxy key of an ``auth`` route: ``x-litellm-api-key``, else the usual headers."""
    given = request.headers.get("x-litellm-api-key")
    return {"authorization": f"Bearer {given}"} if given else request.headers


def _streams(call: ProxyCall, body: dict[str, Any]) -> bool:
    """A streamed answer is relayed as it comes: ``stream`` in the body, or an SSE ``accept``."""
    return bool(body.get("stream")) or "text/event-stream" in call.request.headers.get("accept", "")


async def _resolve(entry: PassThroughEndpoint, call: ProxyCall, body: dict[str, Any]) -> None:
    """The target as the call's deployment (model: the body's ``model``, else the path; priced up
    front by ``cost_per_request`` for admission), the model group (the path) and the tags."""
    state, request = call.state, call.request
    model = body.get("model") if isinstance(body.get("model"), str) else None
    rate = entry.cost_per_request
    call.deployment = Deployment(
        price=None if rate is None else UnitWorstCase(rate),
        provider="pass_through",
        model=model or entry.path,
        api_base=entry.target,
        model_group=entry.path,
    )
    call.model = model or entry.path
    call.ctx.model_group = entry.path
    tags = state.tags.from_request(body, request.headers)
    call.ctx.request_tags = state.tags.resolve(tags, call.key.tags, call.key.team_tags, [], request.headers)
    call.attachments["parsed"] = body


def _prepare(entry: PassThroughEndpoint, call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    """The outgoing request: the bytes as sent (re-encoded only when a pre-call hook changed the
    body) to ``target_url`` with ``_upstream_headers``."""
    deployment, request = call.deployment, call.request
    assert deployment is not None
    raw: bytes = call.attachments["raw"]
    if call.body is not call.attachments["parsed"]:
        raw = orjson.dumps(call.body)
    url = target_url(entry, request.path_params.get("subpath", ""), request.url.query)
    http = HTTPRequest(request.method, url, _upstream_headers(entry, request), raw)
    kwargs = {"http": http, "entry": entry}
    return Upstream(deployment, admitted, native=True, kwargs=kwargs, worst_case=deployment.price)


def custom_endpoint(entry: PassThroughEndpoint) -> Endpoint:
    """The lifecycle ``Endpoint`` of one entry (module docstring)."""
    return Endpoint(
        call_type="pass_through_endpoint",
        need="",
        call=custom_plain,
        encode=relay_encode,
        error=relayed_error,
        open_stream=custom_open,
        stream_encoder=lambda call, upstream: RawEncoder(),
        prepare=partial(_prepare, entry),
        chunk_hooks=False,
        name="custom_pass_through",
        read=read_raw,
        credentials=_credentials,
        stream_of=_streams,
        resolve=partial(_resolve, entry),
        admit=entry.auth,
        stream_response=relayed_stream,
        anonymous=not entry.auth,
    )


def _served(path: str, builtin: Iterable[BaseRoute]) -> bool:
    for route in builtin:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            return True
    return False


def routes(general_settings: dict[str, Any], builtin: list[BaseRoute]) -> list[Route]:
    """The custom routes of ``general_settings`` (see the module docstring); ``ConfigError`` on a bad
    entry."""
    out: list[Route] = []
    for endpoint in parse_pass_through_endpoints(general_settings):
        if _served(endpoint.path, builtin):
            log.warning(
                "config: general_settings.pass_through_endpoints path %s is served by ledgerlm itself; "
                "the pass-through to %s is not mounted",
                endpoint.path,
                endpoint.target,
            )
            continue
        handler = inference_route(custom_endpoint(endpoint))
        methods = list(endpoint.methods)
        out.append(Route(endpoint.path, handler, methods=methods))
        if endpoint.include_subpath:
            out.append(Route(endpoint.path + "/{subpath:path}", handler, methods=methods))
    return out
