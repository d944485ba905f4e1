"""``POST /v1/moderations`` (free) and ``POST /v1/rerank`` (Cohere format, per search).

* moderations: OpenAI API reference ("Moderations"): ``input`` -> ``{"id": "modr-...", "results"}``;
  OpenAI-compatible deployments; priced $0 (free, OpenAI pricing page): one ``request`` at $0 in the
  breakdown; call type ``amoderation``;
* rerank: Cohere API reference ("Rerank V2"): ``query``, ``documents``, ``top_n`` -> ``{"results":
  [{"index", "relevance_score"}], "meta": {"billed_units": {"search_units"}}}``; ``cohere/`` deployments
  (``{root}/v2/rerank``) and OpenAI-compatible servers that serve ``{base}/rerank`` (Jina, Voyage,
  vLLM ...); priced per search unit (``ledgerlm.pricing.unit_prices``); call type ``arerank``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.unit_prices import UnitPrice, unit_rates
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints._glue import (
    Endpoint,
    Plan,
    flagged,
    json_body,
    openai_compatible,
    run,
    unsupported,
)

__all__ = ["MODERATIONS", "RERANK", "moderations", "rerank", "routes"]


def _unit_plan(endpoint_name: str, what: str, alternative: str) -> Any:
    def plan(call: ProxyCall, admitted: dict[str, Any]) -> Plan:
        deployment = call.deployment
        assert deployment is not None
        if not openai_compatible(deployment):
            raise unsupported(deployment, what, alternative)
        price = UnitPrice(None, unit_rates(deployment.provider, deployment.model), model=deployment.model)
        return Plan(flagged(deployment, endpoint_name, price), admitted)

    return plan


async def _rerank_body(request: Request, call: ProxyCall) -> dict[str, Any]:
    body = await json_body(request, call)
    documents = body.get("documents")
    if not isinstance(body.get("query"), str) or not isinstance(documents, list) or not documents:
        raise BadRequestError(
            "'query' (a string) and 'documents' (a non-empty list) are required", param="documents"
        )
    return body


MODERATIONS = Endpoint(
    "amoderation", "input", json_body, _unit_plan("moderations", "moderation", "an openai/ moderation model")
)
RERANK = Endpoint("arerank", "query", _rerank_body, _unit_plan("rerank", "rerank", "a cohere/ rerank model"))


async def moderations(request: Request) -> Response:
    """``POST /v1/moderations``."""
    return await run(request, MODERATIONS)


async def rerank(request: Request) -> Response:
    """``POST /v1/rerank`` (Cohere format)."""
    return await run(request, RERANK)


def routes() -> list[Route]:
    """Moderations and rerank, with and without ``/v1`` (rerank also at Cohere's ``/v2/rerank``)."""
    return [
        *(Route(p, moderations, methods=["POST"]) for p in ("/v1/moderations", "/moderations")),
        *(Route(p, rerank, methods=["POST"]) for p in ("/v1/rerank", "/rerank", "/v2/rerank")),
    ]
